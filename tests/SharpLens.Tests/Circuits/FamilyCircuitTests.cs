using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Circuits;

/// <summary>
/// Circuits on every kind of block: EAP-IG's graph for parallel attention/MLP (GPT-NeoX, GPT-J: m{l} does not read layer
/// l's heads) and grouped-query attention (Llama, Qwen3, Mistral: every query head has its own k/v input, EAP-IG's
/// ungrouped view). EAP is checked against central finite differences of the exact edge-patched forward, edge by edge;
/// the exact forward against ordinary runs with hooks; path patching against exact edge patching; ACDC runs.
/// </summary>
public class FamilyCircuitTests
{
    public static TheoryData<string> Kinds() => ["neox", "gptj", "neox-sequential", "llama", "qwen3", "mistral"];

    private static (HookedTransformer Model, PatchingInputs Inputs) Load(string arch)
    {
        var cfg = Architectures.Get(arch);
        var model = new HookedTransformer(cfg, RandomWeights.Create(cfg, seed: 7, std: 0.3f), weightsProcessed: false);
        var clean = new TokenBatch([[1, 3, 5, 7, 2], [1, 4, 5, 9], [1, 8, 9, 10, 11]], padId: 0);
        var corrupted = new TokenBatch([[1, 6, 5, 12, 2], [1, 4, 2, 9], [1, 8, 3, 13, 11]], padId: 0);
        return (model, new PatchingInputs(clean, corrupted, new LogitDiffMetric([(1, 2), (3, 4), (5, 6)])));
    }

    private static float MeanMetric(HookedTransformer model, PatchingInputs inputs, CircuitGraph g, TokenBatch run, NodeOutputs other, int edge, float weight)
    {
        var w = new float[g.NBackward * g.NForward];
        var e = g.Edges[edge];
        w[e.Child.Index * g.NForward + e.Parent.Index] = weight;
        return inputs.Metric.PerPrompt(EdgePatchedForward.FinalLogits(model, g, run, w, other)).Average();
    }

    // score(edge) must equal d(mean metric)/d(weight of the edge) at weight 0 on the run of `run`, whose other side's
    // node outputs are `other`, times `sign` (EAP: clean run, toward corrupted: +1; EAP-IG's first step: corrupted run,
    // toward clean: -1, as its scores use corrupted − clean).
    private static void AssertFiniteDifferences(string arch, HookedTransformer model, PatchingInputs inputs, EdgeScores scores,
        TokenBatch run, NodeOutputs other, float sign)
    {
        var g = scores.Graph;
        const float eps = 1e-2f;
        float largest = 0;
        for (int i = 0; i < g.Edges.Count; i++)
        {
            var e = g.Edges[i];
            float fd = sign * (MeanMetric(model, inputs, g, run, other, i, eps) - MeanMetric(model, inputs, g, run, other, i, -eps)) / (2 * eps);
            float score = scores[e];
            largest = MathF.Max(largest, MathF.Abs(score));
            Assert.True(MathF.Abs(fd - score) <= 2e-3f + 2e-2f * MathF.Abs(score), $"{arch} {e.Name}: attribution {score}, finite difference of the exact patch {fd}");
        }
        Assert.True(largest > 1e-2f, $"{arch}: every score is near zero, so the comparison proves nothing");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EapEqualsTheDerivativeOfTheExactEdgePatchEdgeByEdge(string arch)
    {
        var (model, inputs) = Load(arch);
        var scores = EdgeAttribution.Eap(model, inputs.Clean, inputs.Corrupted, inputs.Metric);
        var corrupted = NodeOutputs.Run(model, scores.Graph, inputs.Corrupted);
        AssertFiniteDifferences(arch, model, inputs, scores, inputs.Clean, corrupted, +1f);
    }

    [Theory]
    [InlineData("neox")]
    [InlineData("llama")]
    public void EapIgFirstStepEqualsTheDerivativeOfTheExactEdgePatchOnTheCorruptedRun(string arch)
    {
        // With one step EAP-IG's gradient is taken on the corrupted run (interpolation alpha = 0).
        var (model, inputs) = Load(arch);
        var scores = EdgeAttribution.EapIg(model, inputs.Clean, inputs.Corrupted, inputs.Metric, steps: 1);
        var clean = NodeOutputs.Run(model, scores.Graph, inputs.Clean);
        AssertFiniteDifferences(arch, model, inputs, scores, inputs.Corrupted, clean, -1f);
        var five = EdgeAttribution.EapIg(model, inputs.Clean, inputs.Corrupted, inputs.Metric, steps: 5);
        Assert.All(five.Matrix, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void AParallelBlocksMlpReadsNoHeadOfItsOwnLayer()
    {
        var (model, _) = Load("neox");
        var g = CircuitGraph.For(model);
        Assert.True(g.ParallelAttnMlp);
        int H = g.NHeads;
        var sequential = new CircuitGraph(g.NLayers, H, g.DModel);
        // EAP-IG's Graph.from_model: the parallel graph drops exactly a{l}.h{h} -> m{l}, n_layers·n_heads edges.
        Assert.Equal(sequential.Edges.Count - g.NLayers * H, g.Edges.Count);
        Assert.DoesNotContain(g.Edges, e => e.Child.Name == "m1" && e.Parent.Layer == 1);
        Assert.Contains(g.Edges, e => e.Name == "a0.h2->m1");
        var error = Assert.Throws<InvalidInputException>(() => g.Edge("a1.h0->m1"));
        Assert.Contains("parallel block", error.Message);
        // Circuit files carry the flag and are refused by a model of the other kind.
        var path = Path.Combine(Path.GetTempPath(), $"sharplens-parallel-{Guid.NewGuid():N}.json");
        try
        {
            CircuitJson.Write(new Circuit(g, g.Edges.Select((_, i) => i < 3).ToArray()), path);
            Assert.Equal(3, CircuitJson.Read(path, g).Edges.Count());
            Assert.Contains("parallel attention/MLP model", Assert.Throws<InvalidInputException>(() => CircuitJson.Read(path, sequential)).Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("neox")]
    [InlineData("gptj")]
    public void AllEdgesIntoAParallelMlpEqualPatchingItsNormalizedInput(string arch)
    {
        var (model, inputs) = Load(arch);
        var (_, corruptedCache) = model.RunWithCache(inputs.Corrupted);
        var source = corruptedCache[HookNames.Ln2Normalized(1)];
        var expected = model.RunWithHooks(inputs.Clean, [new Hook(HookNames.Ln2Normalized(1), (_, _) => source.Clone())], LogitsMode.Final);
        var evaluator = new CircuitEvaluator(model, inputs);
        var g = evaluator.Graph;
        var w = new float[g.NBackward * g.NForward];
        int child = g.MlpBackward(1);
        for (int u = 0; u < g.Downstream[child].UpstreamCount; u++) w[child * g.NForward + u] = 1;
        TensorAssert.Close(inputs.Metric.PerPrompt(expected), evaluator.PerPrompt(w), $"{arch} into m1", 1e-4f);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen3")]
    [InlineData("mistral")]
    public void GroupedQueryEdgesIntoOneQueryHeadsKeyOrValueEqualPatchingItInTheUngroupedView(string arch)
    {
        var (model, inputs) = Load(arch);
        var ungrouped = UngroupedAttention.Of(model);
        Assert.Equal(model.Config.NHeads, ungrouped.Config.KeyValueHeads);
        TensorAssert.Close(model.Forward(inputs.Clean), ungrouped.Forward(inputs.Clean), $"{arch} ungrouped logits", 1e-5f);
        var evaluator = new CircuitEvaluator(model, inputs);
        var g = evaluator.Graph;
        int H = model.Config.NHeads, head = 1;     // head 1 shares its key/value head with head 0
        foreach (var (input, hook) in new[] { (HeadInput.K, HookNames.K(1)), (HeadInput.V, HookNames.V(1)) })
        {
            var (_, corruptedCache) = ungrouped.RunWithCache(inputs.Corrupted);
            var source = corruptedCache[hook];
            var expected = ungrouped.RunWithHooks(inputs.Clean, [new Hook(hook, (x, _) =>
            {
                var y = x.Clone();
                int width = y.Dim(-1), rows = y.Length / (H * width);
                for (int r = 0; r < rows; r++) source.Data.AsSpan((r * H + head) * width, width).CopyTo(y.Data.AsSpan((r * H + head) * width));
                return y;
            })], LogitsMode.Final);
            var w = new float[g.NBackward * g.NForward];
            int child = g.HeadBackward(1, head, input);
            for (int u = 0; u < g.Downstream[child].UpstreamCount; u++) w[child * g.NForward + u] = 1;
            var actual = evaluator.PerPrompt(w);
            TensorAssert.Close(inputs.Metric.PerPrompt(expected), actual, $"{arch} into a1.h{head}<{input}>", 1e-4f);
            Assert.NotEqual(evaluator.CleanPerPrompt, actual);
        }
    }

    // Every pair has an effect to check (m0 -> logits in a parallel block would not: m0 sees only its own token, and
    // the clean and corrupted prompts end on the same token).
    public static TheoryData<string, string, string> PathPairs() => new()
    {
        { "neox", "a0.h1", "a1.h2<v>" }, { "neox", "a0.h0", "m1" }, { "neox", "m1", "logits" }, { "gptj", "m0", "a1.h3<k>" },
        { "llama", "a0.h1", "a1.h1<k>" }, { "llama", "m0", "a1.h0<v>" }, { "qwen3", "a0.h2", "a1.h3<q>" }, { "mistral", "a1.h0", "m1" },
    };

    [Theory]
    [MemberData(nameof(PathPairs))]
    public void PathPatchingWithFrozenMlpsEqualsExactPatchingOfTheEdge(string arch, string sender, string receiver)
    {
        var (model, inputs) = Load(arch);
        var path = PathPatchingTests.AssertFrozenMlpPathEqualsEdgePatch(model, inputs, sender, receiver, arch);
        Assert.NotEqual(path.CleanPerPrompt, path.PerPrompt);
    }

    [Theory]
    [InlineData("neox")]
    [InlineData("llama")]
    public void AcdcRunsAndEveryStepIsTheExactMetricOfItsEdgeSet(string arch)
    {
        var (model, inputs) = Load(arch);
        var evaluator = new CircuitEvaluator(model, inputs);
        var result = Acdc.Run(evaluator, threshold: 0.05f);
        Assert.NotEmpty(result.Steps);
        int removed = result.Steps.Count(st => st.Removed);
        Assert.True(removed > 0 && removed < result.Steps.Count, $"{arch}: {removed} of {result.Steps.Count} attempts removed an edge");
        // The final metric is the exact run of every removed edge patched.
        var g = evaluator.Graph;
        var w = new float[g.NBackward * g.NForward];
        foreach (var st in result.Steps.Where(st => st.Removed))
        {
            var e = g.Edge(st.Edge);
            w[e.Child.Index * g.NForward + e.Parent.Index] = 1;
        }
        Assert.True(MathF.Abs(evaluator.PerPrompt(w).Average() - result.Metric) < 1e-4f, $"{arch}: ACDC's final metric {result.Metric}");
        Assert.All(result.Circuit.Edges, e => Assert.True(g.EdgeIndexByName.ContainsKey(e.Name)));
    }
}
