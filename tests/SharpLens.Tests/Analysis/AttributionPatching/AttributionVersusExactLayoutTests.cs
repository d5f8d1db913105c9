using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Analysis.Attribution;

/// <summary>Attribution and exact patching label their grids alike, so every attribution grid can be checked against exact patching.</summary>
public class AttributionVersusExactLayoutTests
{
    [Fact]
    public void EveryAttributionGridHasTheExactGridsLabelsAndCorrelatesWithIt()
    {
        var model = Fixtures.Load("tiny-b", processed: true);
        var t = Fixtures.Tokens("tiny-b");
        var metric = new LogitDiffMetric(t.AnswerPairs);
        var attribution = SharpLens.Analysis.Attribution.AttributionPatching.Run(model, t.CleanBatch, t.CorruptedBatch, metric);
        var strTokens = SharpLens.Analysis.Attribution.AttributionPatching.PositionLabels(model, t.CleanBatch).Select(l => l[..l.LastIndexOf('_')]).ToArray();
        var patcher = new ActivationPatcher(model, new PatchingInputs(t.CleanBatch, t.CorruptedBatch, metric), new PatchingOptions { StrTokens = strTokens });
        var pairs = new (string Key, SharpLens.Analysis.Grid Exact)[]
        {
            ("resid_pre", patcher.ByPosition("resid_pre")),
            ("head_out", patcher.HeadsAllPositions(HeadActivation.Output)),
            ("head_v_by_pos", patcher.HeadsByPosition(HeadActivation.Value)),
            ("head_pattern_by_pos", patcher.HeadsByPosition(HeadActivation.Pattern)),
        };
        // Destination rows partition the pattern: their estimates add up to the whole head's.
        var byPos = attribution["head_pattern_by_pos"];
        var whole = attribution["head_pattern"];
        int positions = t.CleanBatch.Pos;
        for (int l = 0; l < whole.Rows.Count; l++)
            for (int h = 0; h < whole.Cols.Count; h++)
                Assert.Equal(whole[l, h], Enumerable.Range(0, positions).Sum(p => byPos[l * positions + p, h]), 4);

        foreach (var (key, exact) in pairs)
        {
            var estimate = attribution[key];
            Assert.Equal(exact.Rows, estimate.Rows);
            Assert.Equal(exact.Cols, estimate.Cols);
            var report = AttributionAgreement.Compare(estimate, attribution.ExactChange(exact));
            Assert.True(report.Cells == exact.Rows.Count * exact.Cols.Count, key);
        }
    }
}
