using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Loading;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.RealModel;

/// <summary>The README's code sample, kept compiling here and run where real GPT-2 is available.</summary>
[Trait("Category", "RealWeights")]
public class ReadmeExampleTests
{
    [RealGpt2Fact]
    public void ReadmeSampleRuns()
    {
        var model = ModelLoader.Load(RealGpt2.Folder!);
        var tok = model.RequireTokenizer();
        var clean = tok.ToTokens(["We're helping our friend when they", "We are helping our friend when they"]);
        var corrupted = tok.ToTokens(["We are helping our friend when they", "We're helping our friend when they"]);
        var answers = new[] { (tok.ToSingleToken("'re"), tok.ToSingleToken(" are")), (tok.ToSingleToken(" are"), tok.ToSingleToken("'re")) };

        var (logits, cache) = model.RunWithCache(clean, name => name.EndsWith("hook_z"));
        Tensor z7 = cache["z", 7];
        Assert.Equal([2, 8, 12, 64], z7.Shape);

        var ablated = model.RunWithHooks(clean, [new Hook("blocks.7.attn.hook_z", (z, _) =>
        {
            for (int row = 0; row < z.Dim(0) * z.Dim(1); row++) z.Data.AsSpan((row * 12 + 11) * 64, 64).Clear();
            return null;
        })]);
        Assert.NotEqual(logits.Data[^1], ablated.Data[^1]);

        var patcher = new ActivationPatcher(model, new PatchingInputs(clean, corrupted, new LogitDiffMetric(answers)));
        Grid resid = patcher.Normalize(patcher.ResidPreByPosition());
        Assert.Equal(12, resid.Rows.Count);
        var estimate = SharpLens.Analysis.Attribution.AttributionPatching.Run(model, clean, corrupted, new LogitDiffMetric(answers));
        Assert.Equal(12, estimate["head_out"].Rows.Count);
    }
}
