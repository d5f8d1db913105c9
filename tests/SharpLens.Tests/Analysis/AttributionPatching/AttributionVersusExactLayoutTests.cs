using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Tests.Support;
using Xunit.Abstractions;

namespace SharpLens.Tests.Analysis.Attribution;

/// <summary>Attribution and exact patching are two engines over the same sweeps: identical labels and layout in both
/// alignments and both directions, and the estimate correlates with the exact result.</summary>
public class AttributionVersusExactLayoutTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(PatchDirection.CleanIntoCorrupted, Alignment.Start)]
    [InlineData(PatchDirection.CleanIntoCorrupted, Alignment.End)]
    [InlineData(PatchDirection.CorruptedIntoClean, Alignment.Start)]
    [InlineData(PatchDirection.CorruptedIntoClean, Alignment.End)]
    public void EverySweepHasTheExactGridsLabelsAndTheEstimateCorrelatesWithIt(PatchDirection direction, Alignment alignment)
    {
        var model = Fixtures.Load("tiny-b", processed: true);
        var t = Fixtures.Tokens("tiny-b");
        var inputs = new PatchingInputs(t.CleanBatch, t.CorruptedBatch, new LogitDiffMetric(t.AnswerPairs));
        var options = new PatchingOptions { Direction = direction, Alignment = alignment, StrTokens = Enumerable.Range(0, 64).Select(i => $"t{i}").ToArray() };
        var exact = new ActivationPatcher(model, inputs, options);
        var attribution = new AttributionPatcher(model, inputs, options);
        Assert.Equal(exact.CleanBaseline, attribution.CleanBaseline, (a, b) => Math.Abs(a - b) < 1e-4f);
        Assert.Equal(exact.CorruptedBaseline, attribution.CorruptedBaseline, (a, b) => Math.Abs(a - b) < 1e-4f);

        foreach (var name in new[] { "resid_pre", "attn_out", "head_out", "head_v_by_pos", "head_pattern_by_pos", "neurons" })
        {
            var sweep = exact.Sweep(name);
            Assert.Equal(sweep, attribution.Sweep(name));
            var truth = exact.Run(sweep);
            var estimate = attribution.Run(sweep);
            Assert.Equal(truth.Rows, estimate.Rows);
            Assert.Equal(truth.Cols, estimate.Cols);
            Assert.Equal(truth.RowTitle, estimate.RowTitle);
            Assert.Equal(truth.ColTitle, estimate.ColTitle);
            Assert.Equal(truth.PerPrompt!.Shape, estimate.PerPrompt!.Shape);
            if (name == "resid_pre")
            {
                // Alignment shows in the labels: "t0_0".. from the start, ..."_-1" counted back from the end.
                Assert.EndsWith(alignment == Alignment.End ? "_-1" : "_0", alignment == Alignment.End ? truth.Cols[^1] : truth.Cols[0]);
            }
            var report = AttributionAgreement.Compare(estimate, truth);
            output.WriteLine($"{direction} {alignment} {name}: pearson {report.Pearson:F3} spearman {report.Spearman:F3} cells {report.Cells}");
            // The first-order estimate tracks the exact patched metric: loosely for the whole residual stream (patching
            // it moves the model far from where the gradient was taken), closely for single components (about 0.85-1.0
            // on this model in every direction and alignment; a sign or position error drops it below zero).
            double floor = name == "resid_pre" ? 0.5 : 0.8;
            Assert.True(report.Pearson > floor, $"{name}: attribution and exact patching correlate only {report.Pearson:F3} ({direction}, {alignment})");
        }
    }

    [Fact]
    public void DestinationRowsOfThePatternAddUpToTheWholeHead()
    {
        var model = Fixtures.Load("tiny-b", processed: true);
        var t = Fixtures.Tokens("tiny-b");
        var attribution = new AttributionPatcher(model, new PatchingInputs(t.CleanBatch, t.CorruptedBatch, new LogitDiffMetric(t.AnswerPairs)));
        var byPos = attribution.Change(attribution.Sweep("head_pattern_by_pos"));
        var whole = attribution.Change(attribution.Sweep("head_pattern"));
        int positions = t.CleanBatch.Pos;
        for (int l = 0; l < whole.Rows.Count; l++)
            for (int h = 0; h < whole.Cols.Count; h++)
                Assert.Equal(whole[l, h], Enumerable.Range(0, positions).Sum(p => byPos[l * positions + p, h]), 4);
    }
}
