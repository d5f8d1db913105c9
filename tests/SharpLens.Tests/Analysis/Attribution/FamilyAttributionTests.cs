using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Attribution;

/// <summary>The logit lens and direct logit attribution on blocks without learned positions (rotary) or without
/// resid_mid (parallel attention and MLP): the stacks leave out what the model does not have and still add up.</summary>
public class FamilyAttributionTests
{
    [Theory]
    [InlineData("neox")]
    [InlineData("neox-sequential")]
    [InlineData("llama")]
    [InlineData("qwen3")]
    public void DecompositionSumsToTheFinalResidualAndDlaReconstructsTheLogitDifference(string arch)
    {
        var cfg = Architectures.Get(arch);
        var model = new HookedTransformer(cfg, RandomWeights.Create(cfg, seed: 9, std: 0.3f), weightsProcessed: false);
        var tokens = new TokenBatch([[1, 3, 5, 7, 2], [1, 4, 5, 9]], padId: 0);
        var (logits, cache) = model.RunWithCache(tokens, DirectLogitAttribution.NeededHooks(model), LogitsMode.Final);
        var pos = PosSlice.Final(tokens);

        var lens = cache.AccumulatedResid(pos, inclMid: true);
        Assert.Equal(!cfg.ParallelAttnMlp, lens.Labels.Contains("0_mid"));
        var decomposed = cache.DecomposeResid(pos);
        Assert.DoesNotContain("pos_embed", decomposed.Labels);
        int last = lens.Components - 1, width = tokens.Batch * lens.DModel;
        TensorAssert.Close(lens.Values.Data.AsSpan(last * width, width).ToArray(), decomposed.Sum().Data, $"{arch} final_post = Σ decompose_resid", 1e-4f);

        var dla = DirectLogitAttribution.ForLogitDiff(model, cache, tokens, [(11, 12), (13, 14)]);
        var measured = new[] { logits.Data[11] - logits.Data[12], logits.Data[cfg.DVocab + 13] - logits.Data[cfg.DVocab + 14] };
        TensorAssert.Close(measured, dla.MeasuredLogitDiff, $"{arch} DLA's measured logit difference", 1e-4f);
    }
}
