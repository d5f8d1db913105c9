using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Circuits;

public class PathPatchingTests
{
    public static TheoryData<string, string, string> SenderReceiverPairs() => new()
    {
        { "tiny-b", "a0.h1", "a2.h2<v>" }, { "tiny-b", "a1.h0", "a2.h1<q>" }, { "tiny-b", "m0", "a1.h2<k>" },
        { "tiny-b", "a1.h2", "logits" }, { "tiny-b", "a0.h0", "m1" }, { "ragged", "a0.h1", "a2.h0<v>" }, { "ragged", "m1", "logits" },
    };

    [Theory]
    [MemberData(nameof(SenderReceiverPairs))]
    public void WithFrozenMlpsItEqualsExactPatchingOfTheEdge(string model, string sender, string receiver)
    {
        var (m, inputs) = model == "ragged" ? CircuitTestModels.RaggedRandom() : CircuitTestModels.Fixture(model);
        AssertFrozenMlpPathEqualsEdgePatch(m, inputs, sender, receiver, model);
    }

    /// <summary>
    /// Path patching sender -> receiver with frozen MLPs must equal the circuit evaluator's exact patching of that one
    /// edge (all other edges clean), prompt by prompt; returns the path patching result.
    /// </summary>
    internal static PathPatchingResult AssertFrozenMlpPathEqualsEdgePatch(HookedTransformer model, PatchingInputs inputs, string sender, string receiver, string label)
    {
        var patcher = new PathPatcher(model, inputs);
        var (s, r) = patcher.Parse([sender], [receiver]);
        var path = patcher.Run(s, r, freezeMlps: true);
        var evaluator = new CircuitEvaluator(model, inputs);
        var g = evaluator.Graph;
        var weights = new float[g.NBackward * g.NForward];
        var edge = g.Edge($"{sender}->{receiver}");
        weights[edge.Child.Index * g.NForward + edge.Parent.Index] = 1;
        TensorAssert.Close(evaluator.PerPrompt(weights), path.PerPrompt, $"{label} {sender}->{receiver}", 1e-4f);
        return path;
    }

    [Fact]
    public void RecomputedMlpsEqualFreezingEveryOtherHeadAndDifferFromFrozenMlps()
    {
        // a0.h0 into the logits: frozen MLPs give only the direct path; recomputed MLPs add a0.h0 -> m0/m1/m2 -> logits.
        // The former equals a plain run whose every other head is frozen by hooks, with a0.h0's z corrupted.
        var (model, inputs) = CircuitTestModels.Fixture("tiny-b");
        var patcher = new PathPatcher(model, inputs);
        var (s, r) = patcher.Parse(["a0.h0"], ["logits"]);
        var recomputed = patcher.Run(s, r).PerPrompt;
        var (_, clean) = model.RunWithCache(inputs.Clean);
        var (_, corrupted) = model.RunWithCache(inputs.Corrupted);
        int H = model.Config.NHeads;
        var hooks = new List<Hook>();
        for (int l = 0; l < model.Config.NLayers; l++)
        {
            int layer = l;
            hooks.Add(new Hook(HookNames.Z(l), (_, _) =>
            {
                var z = clean[HookNames.Z(layer)].Clone();
                if (layer == 0)
                    for (int row = 0; row < z.Length / (H * z.Dim(-1)); row++)
                        corrupted[HookNames.Z(0)].Data.AsSpan(row * H * z.Dim(-1), z.Dim(-1)).CopyTo(z.Data.AsSpan(row * H * z.Dim(-1)));
                return z;
            }));
        }
        var expected = inputs.Metric.PerPrompt(model.RunWithHooks(inputs.Clean, hooks, LogitsMode.Final));
        TensorAssert.Close(expected, recomputed, "a0.h0 -> logits with recomputed MLPs", 1e-4f);
        var frozen = patcher.Run(s, r, freezeMlps: true).PerPrompt;
        Assert.True(recomputed.Zip(frozen).Max(p => MathF.Abs(p.First - p.Second)) > 1e-3f, "the MLPs carry part of a0.h0's effect");
    }

    [Fact]
    public void SweepFillsOnlySendersBeforeTheReceiver()
    {
        var (model, inputs) = CircuitTestModels.Fixture("tiny-b");
        var patcher = new PathPatcher(model, inputs);
        var (_, r) = patcher.Parse(["a0.h0"], ["a2.h1<v>"]);
        var grid = patcher.SweepSenders(r);
        Assert.Equal(["0", "1", "2"], grid.Rows);
        Assert.Equal(["0", "1", "2", "mlp"], grid.Cols);
        for (int h = 0; h <= 3; h++) Assert.Equal(0f, grid[2, h]);
        Assert.Contains(Enumerable.Range(0, 4), h => grid[0, h] != 0f);
        var single = patcher.Run(patcher.Parse(["a1.h2"], ["a2.h1<v>"]).Senders, r);
        Assert.Equal(single.Normalized, grid[1, 2], 4);
    }

    [Theory]
    [InlineData("a9.h0", "logits", "head L9H0 does not exist")]
    [InlineData("a0.h0", "a1.h1", "name its input")]
    [InlineData("input", "logits", "cannot be a path-patching sender")]
    [InlineData("a0.h0", "zz", "unknown node 'zz'")]
    public void BadNamesAreOneLineErrors(string sender, string receiver, string expected)
    {
        var (model, inputs) = CircuitTestModels.Fixture("tiny-b");
        var patcher = new PathPatcher(model, inputs);
        var e = Assert.Throws<InvalidInputException>(() => patcher.Parse([sender], [receiver]));
        Assert.Contains(expected, e.Message);
    }
}
