using SharpLens.Generation;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

public class HookTests
{
    private static readonly HookedTransformer Model = Fixtures.Load("tiny-b", processed: true);
    private static readonly TokenBatch Clean = Fixtures.Tokens("tiny-b").CleanBatch;

    [Fact]
    public void CacheHoldsOnlyWhatWasAskedFor()
    {
        var (_, cache) = Model.RunWithCache(Clean, new[] { "blocks.1.hook_resid_pre", "blocks.0.attn.hook_pattern" });
        Assert.Equal(2, cache.Count);
        Assert.Equal([Clean.Batch, Clean.Pos, Model.Config.DModel], cache["resid_pre", 1].Shape);
        Assert.Throws<InvalidInputException>(() => cache["resid_post", 1]);
    }

    [Fact]
    public void ReplacingAnActivationChangesTheOutputAndHooksDoNotPersist()
    {
        var baseline = Model.Forward(Clean);
        var zeroed = Model.RunWithHooks(Clean, [new Hook(HookNames.MlpOut(1), (act, _) => { Array.Clear(act.Data); return null; })]);
        Assert.NotEqual(baseline.Data[^1], zeroed.Data[^1]);
        TensorAssert.Close(baseline, Model.Forward(Clean), "after hooks were removed", 0f);
    }

    [Fact]
    public void ZeroingOneHeadEqualsRemovingItsResult()
    {
        // Knocking out head 1 of layer 0 through z must match subtracting its hook_result from attn_out.
        int layer = 0, head = 1, dh = Model.Config.DHead, h = Model.Config.NHeads;
        var viaZ = Model.RunWithHooks(Clean, [new Hook(HookNames.Z(layer), (z, _) =>
        {
            for (int r = 0; r < Clean.Batch * Clean.Pos; r++) z.Data.AsSpan((r * h + head) * dh, dh).Clear();
            return null;
        })]);
        var viaResult = Model.RunWithHooks(Clean, [new Hook(HookNames.Result(layer), (result, _) =>
        {
            int d = Model.Config.DModel;
            for (int r = 0; r < Clean.Batch * Clean.Pos; r++) result.Data.AsSpan((r * h + head) * d, d).Clear();
            return null;
        })]);
        TensorAssert.Close(viaZ, viaResult, "head knock-out", 1e-4f);
    }

    [Fact]
    public void HooksAreRemovedWhenTheForwardThrows()
    {
        var boom = new Hook(HookNames.ResidPre(1), (_, _) => throw new InvalidOperationException("boom"));
        Assert.Throws<InvalidOperationException>(() => Model.RunWithHooks(Clean, [boom]));
        var (_, cache) = Model.RunWithCache(Clean, n => n == HookNames.ResidPre(1));
        Assert.Single(cache.Keys);
    }

    [Fact]
    public void UnknownHookNameSuggestsCloseMatches()
    {
        var ex = Assert.Throws<InvalidInputException>(() => Model.RunWithHooks(Clean, [new Hook("blocks.1.hook_resid_pr", (_, _) => null)]));
        Assert.Contains("blocks.1.hook_resid_pre", ex.Message);
        Assert.DoesNotContain("\n", ex.Message);
    }

    [Fact]
    public void HookReturningWrongShapeIsAnError()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() =>
            Model.RunWithHooks(Clean, [new Hook(HookNames.ResidPre(0), (_, _) => Tensor.Zeros(1, 1, 1))]));
        Assert.Contains("blocks.0.hook_resid_pre", ex.Message);
    }

    [Theory]
    [InlineData("resid_pre", 7, null, "blocks.7.hook_resid_pre")]
    [InlineData("pattern", 3, null, "blocks.3.attn.hook_pattern")]
    [InlineData("scale", 2, "ln2", "blocks.2.ln2.hook_scale")]
    [InlineData("scale", null, null, "ln_final.hook_scale")]
    [InlineData("embed", null, null, "hook_embed")]
    [InlineData("post", 8, null, "blocks.8.mlp.hook_post")]
    public void GetActNameMatchesTransformerLens(string name, int? layer, string? type, string expected) =>
        Assert.Equal(expected, HookNames.GetActName(name, layer, type));

    [Fact]
    public void StartAndStopAtLayerComposeToTheFullForward()
    {
        var full = Model.Forward(Clean);
        var mid = Model.Run(Clean, new ForwardOptions { StopAtLayer = 2 });
        var (_, cache) = Model.RunWithCache(Clean, n => n == HookNames.ResidPre(2));
        TensorAssert.Close(cache[HookNames.ResidPre(2)], mid, "stop_at_layer returns resid_pre", 0f);
        var resumed = Model.Run(Clean, new ForwardOptions { StartAtLayer = 2, ResidualInput = mid });
        TensorAssert.Close(full, resumed, "start_at_layer", 1e-5f);
    }

    [Theory]
    [InlineData("hook_resid_pre")]
    [InlineData("hook_resid_mid")]
    [InlineData("mlp.hook_pre")]
    [InlineData("mlp.hook_post")]
    [InlineData("hook_mlp_out")]
    [InlineData("hook_resid_post")]
    public void StopAfterReturnsTheFullForwardsActivationAndRunsNothingLater(string point)
    {
        foreach (int layer in new[] { 0, Model.Config.NLayers - 1 })
        {
            string name = $"blocks.{layer}.{point}";
            var (_, cache) = Model.RunWithCache(Clean, n => n == name);
            var later = new List<string>();
            var laterHooks = Model.HookPointNames.SkipWhile(n => n != name).Skip(1)
                .Select(n => new Hook(n, (_, _) => { later.Add(n); return null; })).ToList();
            // Final logits would shorten the last block to the final rows; stopping inside it must not.
            var stopped = Model.Run(Clean, new ForwardOptions { StopAfter = name, Hooks = laterHooks, Logits = LogitsMode.Final });
            TensorAssert.Close(cache[name], stopped, $"StopAfter {name}", 0f);
            Assert.Empty(later);
        }
    }

    [Fact]
    public void StopAfterSeesAHookThatEditsItsPointAndRefusesOtherPoints()
    {
        string post = HookNames.MlpPost(0);
        var stopped = Model.Run(Clean, new ForwardOptions
        {
            StopAfter = post,
            Hooks = [new Hook(post, (act, _) => { Array.Fill(act.Data, 2f); return null; })],
        });
        Assert.All(stopped.Data, v => Assert.Equal(2f, v));
        var attn = Assert.Throws<InvalidInputException>(() => Model.Run(Clean, new ForwardOptions { StopAfter = HookNames.Z(0) }));
        Assert.Contains("mlp.hook_post", attn.Message);
        Assert.Throws<InvalidInputException>(() => Model.Run(Clean, new ForwardOptions { StopAfter = post, StopAtLayer = 1 }));
        Assert.Throws<InvalidInputException>(() => Model.Run(Clean, new ForwardOptions { StopAfter = "blocks.99.mlp.hook_post" }));
        var early = Assert.Throws<InvalidInputException>(() => Model.Run(Clean, new ForwardOptions
        {
            StopAfter = post, StartAtLayer = 1, ResidualInput = Model.Run(Clean, new ForwardOptions { StopAtLayer = 1 }),
        }));
        Assert.Contains("outside the blocks", early.Message);
    }

    [Fact]
    public void RaggedBatchMatchesSeparateRunsAtRealPositions()
    {
        int[] a = [119, 3, 4, 5, 6, 7, 8], b = [119, 10, 11];
        var batch = new TokenBatch([a, b], padId: 0);
        var logits = Model.Run(batch, new ForwardOptions { Logits = LogitsMode.Final });
        var alone = Model.Run(TokenBatch.Single(b), new ForwardOptions { Logits = LogitsMode.Final });
        TensorAssert.Close(alone.Data, logits.Data.AsSpan(Model.Config.DVocab), "final logits of the short prompt", 1e-4f);
    }

    [Fact]
    public void KvCacheGenerationMatchesFullForward()
    {
        int[] prompt = [119, 5, 17, 42];
        var ids = TextGenerator.Generate(Model, prompt, new SamplingOptions { MaxNewTokens = 6, Temperature = 0 });
        Assert.Equal(10, ids.Length);
        // Greedy: each generated token is the argmax of a plain forward over everything before it.
        for (int i = prompt.Length; i < ids.Length; i++)
        {
            var logits = Model.Run(TokenBatch.Single(ids[..i]), new ForwardOptions { Logits = LogitsMode.Final });
            Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.Data), ids[i]);
        }
    }

    [Fact]
    public void SeededSamplingIsReproducible()
    {
        var options = new SamplingOptions { MaxNewTokens = 8, Temperature = 1.5f, TopK = 20, TopP = 0.9f, Seed = 7 };
        Assert.Equal(TextGenerator.Generate(Model, [119, 1], options), TextGenerator.Generate(Model, [119, 1], options));
    }

    [Fact]
    public void PromptLongerThanContextIsAClearError()
    {
        var ids = Enumerable.Range(0, Model.Config.NCtx + 1).Select(i => i % 100).ToArray();
        var ex = Assert.Throws<InvalidInputException>(() => Model.Forward(ids));
        Assert.Contains("context", ex.Message);
    }
}
