using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Circuits;

/// <summary>Exact edge patching against the plain mechanism: ordinary runs with hooks that patch whole activations.</summary>
public class EdgePatchingTests
{
    private static Tensor PatchedLogits(HookedTransformer model, PatchingInputs inputs, Func<CircuitGraph, float[], float[]> choose, bool useClean = true)
    {
        var graph = CircuitGraph.For(model);
        var corrupted = NodeOutputs.Run(model, graph, inputs.Corrupted);
        var clean = useClean ? NodeOutputs.Run(model, graph, inputs.Clean) : null;
        var weights = choose(graph, new float[graph.NBackward * graph.NForward]);
        return EdgePatchedForward.FinalLogits(model, graph, inputs.Clean, weights, corrupted, clean);
    }

    private static Tensor HookedLogits(HookedTransformer model, PatchingInputs inputs, string hook, Action<Tensor, Tensor> patch)
    {
        var (_, corruptedCache) = model.RunWithCache(inputs.Corrupted);
        var source = corruptedCache[hook];
        return model.RunWithHooks(inputs.Clean, [new Hook(hook, (x, _) => { var y = x.Clone(); patch(y, source); return y; })], LogitsMode.Final);
    }

    // Every edge into one child (downstream index) patched.
    private static float[] AllInto(CircuitGraph g, float[] w, int child)
    {
        for (int u = 0; u < g.Downstream[child].UpstreamCount; u++) w[child * g.NForward + u] = 1;
        return w;
    }

    // Every edge out of one parent (forward index) patched.
    private static float[] AllOutOf(CircuitGraph g, float[] w, int parent)
    {
        foreach (var n in g.Downstream) if (parent < n.UpstreamCount) w[n.Index * g.NForward + parent] = 1;
        return w;
    }

    private static void CopyHead(Tensor dst, Tensor src, int head, int heads)
    {
        int width = dst.Dim(-1), rows = dst.Length / (heads * width);
        for (int r = 0; r < rows; r++) src.Data.AsSpan((r * heads + head) * width, width).CopyTo(dst.Data.AsSpan((r * heads + head) * width));
    }

    public static TheoryData<string> Models() => ["tiny-a", "tiny-b", "ragged"];

    private static (HookedTransformer, PatchingInputs) Load(string name) =>
        name == "ragged" ? CircuitTestModels.RaggedRandom() : CircuitTestModels.Fixture(name);

    [Theory]
    [MemberData(nameof(Models))]
    public void NothingPatchedIsTheCleanRunAndEverythingPatchedTheCorruptedRun(string name)
    {
        var (model, inputs) = Load(name);
        var clean = model.Forward(inputs.Clean, new ForwardOptions { Logits = LogitsMode.Final });
        var corrupted = model.Forward(inputs.Corrupted, new ForwardOptions { Logits = LogitsMode.Final });
        TensorAssert.Close(clean, PatchedLogits(model, inputs, (_, w) => w, useClean: false), $"{name} nothing patched", 1e-4f);
        TensorAssert.Close(corrupted, PatchedLogits(model, inputs, (_, w) => { Array.Fill(w, 1f); return w; }), $"{name} all patched", 1e-4f);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AllEdgesIntoAHeadInputEqualPatchingThatHeadsActivation(string name)
    {
        var (model, inputs) = Load(name);
        int H = model.Config.NHeads, last = model.Config.NLayers - 1;
        foreach (var (input, hook) in new[] { (HeadInput.Q, HookNames.Q(last)), (HeadInput.K, HookNames.K(1)), (HeadInput.V, HookNames.V(last)) })
        {
            int head = H - 1;
            int layer = hook == HookNames.K(1) ? 1 : last;
            var expected = HookedLogits(model, inputs, hook, (x, src) => CopyHead(x, src, head, H));
            var actual = PatchedLogits(model, inputs, (g, w) => AllInto(g, w, g.HeadBackward(layer, head, input)));
            TensorAssert.Close(expected, actual, $"{name} all edges into a{layer}.h{head}<{input}>", 1e-4f);
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AllEdgesIntoAnMlpOrTheLogitsEqualPatchingTheirNormalizedInput(string name)
    {
        var (model, inputs) = Load(name);
        var expected = HookedLogits(model, inputs, HookNames.Ln2Normalized(1), (x, src) => src.Data.CopyTo(x.Data, 0));
        TensorAssert.Close(expected, PatchedLogits(model, inputs, (g, w) => AllInto(g, w, g.MlpBackward(1))), $"{name} into m1", 1e-4f);
        expected = HookedLogits(model, inputs, HookNames.LnFinalNormalized, (x, src) => src.Data.CopyTo(x.Data, 0));
        TensorAssert.Close(expected, PatchedLogits(model, inputs, (g, w) => AllInto(g, w, g.LogitsBackward)), $"{name} into logits", 1e-4f);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AllEdgesOutOfANodeEqualPatchingThatNodesOutput(string name)
    {
        var (model, inputs) = Load(name);
        int H = model.Config.NHeads;
        var expected = HookedLogits(model, inputs, HookNames.Result(0), (x, src) => CopyHead(x, src, 1, H));
        TensorAssert.Close(expected, PatchedLogits(model, inputs, (g, w) => AllOutOf(g, w, g.HeadForward(0, 1))), $"{name} out of a0.h1", 1e-4f);
        expected = HookedLogits(model, inputs, HookNames.MlpOut(0), (x, src) => src.Data.CopyTo(x.Data, 0));
        TensorAssert.Close(expected, PatchedLogits(model, inputs, (g, w) => AllOutOf(g, w, g.MlpForward(0))), $"{name} out of m0", 1e-4f);
        expected = HookedLogits(model, inputs, HookNames.ResidPre(0), (x, src) => src.Data.CopyTo(x.Data, 0));
        TensorAssert.Close(expected, PatchedLogits(model, inputs, (g, w) => AllOutOf(g, w, 0)), $"{name} out of input", 1e-4f);
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void RandomEdgeSetsMatchThePyTorchReference(string name)
    {
        var (model, inputs) = CircuitTestModels.Fixture(name);
        var graph = CircuitGraph.For(model);
        var corrupted = NodeOutputs.Run(model, graph, inputs.Corrupted);
        var clean = NodeOutputs.Run(model, graph, inputs.Clean);
        using var golden = SharpLens.Loading.SafetensorsFile.Open(Path.Combine(Fixtures.Folder(name), "circuits.safetensors"));
        for (int i = 0; i < 6; i++)
        {
            var weights = golden.ReadTensor($"mask.{i}").Data;
            var logits = EdgePatchedForward.FinalLogits(model, graph, inputs.Clean, weights, corrupted, i % 2 == 0 ? clean : null);
            TensorAssert.Close(golden.ReadTensor($"exact.{i}").Data, inputs.Metric.PerPrompt(logits), $"{name} edge set {i}", 1e-4f);
        }
    }
}
