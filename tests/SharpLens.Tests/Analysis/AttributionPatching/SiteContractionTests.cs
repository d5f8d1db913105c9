using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Attribution;

/// <summary>
/// The sweep contraction's neuron shortcut (one element-wise product per hook) gives bit for bit what each site's
/// own <see cref="SlicePatch.Contract"/> gives, for neurons at every position and at one position, ragged prompts,
/// mixed in one sweep with head and residual sites.
/// </summary>
public class SiteContractionTests
{
    [Fact]
    public void EverySiteEqualsItsSliceContractionBitForBit()
    {
        var cfg = new ModelConfig { NLayers = 2, DModel = 16, NHeads = 2, DHead = 8, DMlp = 24, DVocab = 30, NCtx = 12, ModelName = "random" };
        var model = RandomModel.Create(cfg, seed: 5);
        static TokenBatch Batch(params int[][] s) => new(s.Select(x => (IReadOnlyList<int>)x).ToList(), padId: 0);
        var clean = Batch([29, 3, 5, 7, 9, 11], [29, 4, 6, 8]);
        var corrupted = Batch([29, 3, 5, 8, 9, 12], [29, 4, 2, 8]);
        var runs = AttributionRuns.Run(model, clean, corrupted, new LogitDiffMetric([(1, 2), (3, 4)]), null, keepAllGradients: false);

        var sites = new List<PatchSite>();
        for (int l = 0; l < cfg.NLayers; l++)
            for (int n = 0; n < cfg.DMlp; n++) { sites.Add(PatchSite.Neuron(l, n)); sites.Add(PatchSite.Neuron(l, n, 2)); sites.Add(PatchSite.Neuron(l, n, -1)); }
        sites.Add(PatchSite.Head("z", 1, 1));
        sites.Add(PatchSite.Residual("resid_pre", 0, -1));
        var sweep = PatchSweep.Of("mixed", sites);
        var actual = runs.Contract(cfg, sweep);

        int prompts = corrupted.Batch;
        for (int i = 0; i < sites.Count; i++)
        {
            var slice = SlicePatch.At(i, sites[i], cfg, p => PositionAxis.Resolve(p, corrupted));
            string hook = slice.HookName;
            for (int b = 0; b < prompts; b++)
            {
                float expected = (float)(prompts * slice.Contract(runs.SourceCache[hook], runs.TargetCache[hook], runs.Gradients[hook], b));
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual.Data[b * sites.Count + i]),
                    $"{sites[i].Name}, prompt {b}: {expected} vs {actual.Data[b * sites.Count + i]}");
            }
        }
        Assert.Contains(actual.Data, v => v != 0f);
    }
}
