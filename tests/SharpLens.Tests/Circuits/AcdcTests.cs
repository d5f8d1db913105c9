using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Circuits;

/// <summary>
/// ACDC against a brute-force reimplementation of the same procedure: every attempt is an ordinary model run whose
/// hooks rebuild each downstream input (q/k/v per head, MLP input, final residual) from the node outputs recorded in
/// that same run, and every run starts from scratch.
/// </summary>
public class AcdcTests
{
    public static TheoryData<string, float> Cases() => new() { { "tiny-a", 0.05f }, { "tiny-b", 0.1f }, { "ragged", 0.02f } };

    private static (HookedTransformer, PatchingInputs) Load(string name) =>
        name == "ragged" ? CircuitTestModels.RaggedRandom() : CircuitTestModels.Fixture(name);

    [Theory]
    [MemberData(nameof(Cases))]
    public void AcdcMakesTheSameDecisionsAsABruteForceRunWithHooks(string name, float threshold)
    {
        var (model, inputs) = Load(name);
        var result = Acdc.Run(new CircuitEvaluator(model, inputs), threshold);
        var expected = BruteForceAcdc(model, inputs, threshold);
        Assert.Equal(expected.Select(s => s.Edge), result.Steps.Select(s => s.Edge));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(MathF.Abs(expected[i].After - result.Steps[i].After) < 1e-4f, $"{name} step {i} ({expected[i].Edge}): metric {result.Steps[i].After} vs hooks {expected[i].After}");
            Assert.Equal(expected[i].Removed, result.Steps[i].Removed);
        }
        int removed = expected.Count(s => s.Removed);
        Assert.True(removed > 0 && removed < expected.Count, $"{name}: the threshold should remove some edges and keep others ({removed} of {expected.Count} removed)");
        var kept = CircuitGraph.For(model).Edges.Where(e => !expected.Any(s => s.Removed && s.Edge == e.Name)).Select(e => e.Name).ToHashSet();
        Assert.Subset(kept, result.Circuit.Edges.Select(e => e.Name).ToHashSet());
    }

    [Fact]
    public void HookedBruteForceEdgePatchingMatchesThePyTorchReference()
    {
        foreach (var name in new[] { "tiny-a", "tiny-b" })
        {
            var (model, inputs) = CircuitTestModels.Fixture(name);
            var graph = CircuitGraph.For(model);
            using var golden = SharpLens.Loading.SafetensorsFile.Open(Path.Combine(Fixtures.Folder(name), "circuits.safetensors"));
            for (int i = 0; i < 6; i++)
            {
                var logits = HookedEdgePatch(model, inputs, graph, golden.ReadTensor($"mask.{i}").Data);
                TensorAssert.Close(golden.ReadTensor($"exact.{i}").Data, inputs.Metric.PerPrompt(logits), $"{name} hooked edge set {i}", 1e-4f);
            }
        }
    }

    [Fact]
    public void ZeroThresholdKeepsEveryEdgeThatMattersAndAHugeOneRemovesAll()
    {
        var (model, inputs) = CircuitTestModels.Fixture("tiny-a");
        var evaluator = new CircuitEvaluator(model, inputs);
        var all = Acdc.Run(evaluator, 1e9f);
        Assert.Equal(0, all.Circuit.EdgeCount);
        Assert.Equal(evaluator.CorruptedPerPrompt.Average(), all.Metric, 3);
        var none = Acdc.Run(evaluator, 0f);
        Assert.All(none.Steps, s => Assert.False(s.Removed));
        Assert.Equal(evaluator.CleanPerPrompt.Average(), none.Metric, 5);
        Assert.Throws<InvalidInputException>(() => Acdc.Run(evaluator, -0.1f));
        Assert.Throws<InvalidInputException>(() => Acdc.Run(evaluator, float.NaN));
    }

    // ---- the brute force ----

    private sealed record Step(string Edge, float After, bool Removed);

    private static List<Step> BruteForceAcdc(HookedTransformer model, PatchingInputs inputs, float threshold)
    {
        var g = CircuitGraph.For(model);
        int L = model.Config.NLayers, H = model.Config.NHeads, nF = g.NForward;
        var w = new float[g.NBackward * nF];
        float Mean() => inputs.Metric.PerPrompt(HookedEdgePatch(model, inputs, g, w)).Average();
        float current = Mean();
        // Visiting order written out independently: logits; per layer from the last: MLP, v, k, q inputs, highest head first.
        var order = new List<DownstreamNode> { g.Downstream[g.LogitsBackward] };
        for (int l = L - 1; l >= 0; l--)
        {
            order.Add(g.Downstream[g.MlpBackward(l)]);
            foreach (var input in new[] { HeadInput.V, HeadInput.K, HeadInput.Q })
                for (int h = H - 1; h >= 0; h--) order.Add(g.Downstream[g.HeadBackward(l, h, input)]);
        }
        var steps = new List<Step>();
        foreach (var child in order)
        {
            if (!child.IsLogits)
            {
                int self = child.IsHead ? g.HeadForward(child.Layer, child.Head) : g.MlpForward(child.Layer);
                // Skipped when every edge out of this node has been removed.
                bool anyOut = g.Downstream.Any(n => self < n.UpstreamCount && w[n.Index * nF + self] == 0f);
                if (!anyOut) continue;
            }
            for (int u = child.UpstreamCount - 1; u >= 0; u--)
            {
                w[child.Index * nF + u] = 1f;
                float after = Mean();
                bool removed = MathF.Abs(after - current) < threshold;
                steps.Add(new Step($"{g.Upstream[u].Name}->{child.InputName}", after, removed));
                if (removed) current = after;
                else w[child.Index * nF + u] = 0f;
            }
        }
        return steps;
    }

    /// <summary>
    /// Final logits of the clean prompts with the edges weighted by <paramref name="w"/> [n_backward, n_forward] carrying
    /// the corrupted output of their parent: one run with hooks. Node outputs of this run are recorded as they pass
    /// (hook_resid_pre 0, hook_result, hook_mlp_out); each head's q/k/v is recomputed from ln1(resid_pre + its delta),
    /// each MLP's ln2 output from resid_mid + delta, ln_final's from resid_post + delta.
    /// </summary>
    private static Tensor HookedEdgePatch(HookedTransformer model, PatchingInputs inputs, CircuitGraph g, float[] w)
    {
        var cfg = model.Config;
        int L = cfg.NLayers, H = cfg.NHeads, dh = cfg.DHead, d = cfg.DModel, nF = g.NForward;
        var (_, corrupted) = model.RunWithCache(inputs.Corrupted, NodeOutputs.RequiredHooks(L), LogitsMode.None);
        var corruptedNodes = Nodes(g, corrupted[HookNames.ResidPre(0)], l => corrupted[HookNames.Result(l)], l => corrupted[HookNames.MlpOut(l)], H);
        var current = new float[nF][];
        var residPre = new Tensor[L];
        var residMid = new Tensor[L];
        Tensor? residPost = null;

        // Σ_u w[n, u]·(corrupted_u − current_u), or null when the row is all zero.
        float[]? Delta(int n)
        {
            float[]? delta = null;
            for (int u = 0; u < g.Downstream[n].UpstreamCount; u++)
            {
                float weight = w[n * nF + u];
                if (weight == 0f) continue;
                delta ??= new float[current[0]!.Length];
                for (int i = 0; i < delta.Length; i++) delta[i] += weight * (corruptedNodes[u][i] - current[u]![i]);
            }
            return delta;
        }
        Tensor Plus(Tensor x, float[] delta)
        {
            var y = x.Clone();
            for (int i = 0; i < delta.Length; i++) y.Data[i] += delta[i];
            return y;
        }
        Hook Projection(int l, HeadInput input, string hook) => new(hook, (x, _) =>
        {
            var block = model.Blocks[l];
            var (mat, bias) = input switch
            {
                HeadInput.Q => (block.Weights.W_Q, block.Weights.b_Q),
                HeadInput.K => (block.Weights.W_K, block.Weights.b_K),
                _ => (block.Weights.W_V, block.Weights.b_V),
            };
            var y = x.Clone();
            int rows = x.Length / (H * dh);
            for (int h = 0; h < H; h++)
            {
                if (Delta(g.HeadBackward(l, h, input)) is not { } delta) continue;
                var ln = block.Ln1.Forward(Plus(residPre[l], delta), ForwardContext.None).Data;
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < dh; j++)
                    {
                        double sum = bias.Data[h * dh + j];
                        for (int k = 0; k < d; k++) sum += ln[r * d + k] * mat.Data[(h * d + k) * dh + j];
                        y.Data[(r * H + h) * dh + j] = (float)sum;
                    }
            }
            return y;
        });

        var hooks = new List<Hook> { new(HookNames.ResidPre(0), (x, _) => { current[0] = (float[])x.Data.Clone(); return null; }) };
        for (int l = 0; l < L; l++)
        {
            int layer = l;
            hooks.Add(new(HookNames.ResidPre(l), (x, _) => { residPre[layer] = x.Clone(); return null; }));
            hooks.Add(Projection(l, HeadInput.Q, HookNames.Q(l)));
            hooks.Add(Projection(l, HeadInput.K, HookNames.K(l)));
            hooks.Add(Projection(l, HeadInput.V, HookNames.V(l)));
            hooks.Add(new(HookNames.Result(l), (x, _) =>
            {
                for (int h = 0; h < H; h++) current[g.HeadForward(layer, h)] = HeadSlice(x, h, H);
                return null;
            }));
            hooks.Add(new(HookNames.ResidMid(l), (x, _) => { residMid[layer] = x.Clone(); return null; }));
            hooks.Add(new(HookNames.Ln2Normalized(l), (x, _) =>
                Delta(g.MlpBackward(layer)) is { } delta ? model.Blocks[layer].Ln2!.Forward(Plus(residMid[layer], delta), ForwardContext.None) : null));
            hooks.Add(new(HookNames.MlpOut(l), (x, _) => { current[g.MlpForward(layer)] = (float[])x.Data.Clone(); return null; }));
        }
        hooks.Add(new(HookNames.ResidPost(L - 1), (x, _) => { residPost = x.Clone(); return null; }));
        hooks.Add(new(HookNames.LnFinalNormalized, (x, _) =>
            Delta(g.LogitsBackward) is { } delta ? model.LnFinal.Forward(Plus(residPost!, delta), ForwardContext.None) : null));
        return model.RunWithHooks(inputs.Clean, hooks, LogitsMode.Final);
    }

    private static float[][] Nodes(CircuitGraph g, Tensor input, Func<int, Tensor> result, Func<int, Tensor> mlpOut, int H)
    {
        var nodes = new float[g.NForward][];
        nodes[0] = input.Data;
        for (int l = 0; l < g.NLayers; l++)
        {
            for (int h = 0; h < H; h++) nodes[g.HeadForward(l, h)] = HeadSlice(result(l), h, H);
            nodes[g.MlpForward(l)] = mlpOut(l).Data;
        }
        return nodes;
    }

    // Head h of a [batch, pos, n_heads, d_model] hook_result as [batch·pos·d_model].
    private static float[] HeadSlice(Tensor result, int h, int heads)
    {
        int d = result.Dim(-1), rows = result.Length / (heads * d);
        var slice = new float[rows * d];
        for (int r = 0; r < rows; r++) result.Data.AsSpan((r * heads + h) * d, d).CopyTo(slice.AsSpan(r * d));
        return slice;
    }
}
