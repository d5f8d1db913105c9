using SharpLens.Analysis;
using SharpLens.Analysis.Metrics;
using SharpLens.Tensors;

namespace SharpLens.Tests.Analysis;

public class MetricsTests
{
    private static readonly float Ln2 = MathF.Log(2), Ln3 = MathF.Log(3);

    // 2 prompts x 4 tokens.
    private static Tensor Logits() => new([
        1f, 3f, -2f, 0.5f,
        0f, 0f, Ln2, 4f], 2, 4);

    [Fact]
    public void LogitDiffPerPromptAndMean()
    {
        var answers = new[] { (1, 2), (3, 0) };
        var pp = LogitDiff.PerPrompt(Logits(), answers);
        Assert.Equal([5f, 4f], pp);
        Assert.Equal(4.5f, LogitDiff.Mean(Logits(), answers));
    }

    [Fact]
    public void LogProbProbabilityByHand()
    {
        // Row [0, 0, ln2]: exp sums to 4, so p = [1/4, 1/4, 1/2].
        var t = new Tensor([0f, 0f, Ln2, 0f, 0f, Ln2], 2, 3);
        var lp = LogitMetrics.LogProb(t, [2, 0]);
        Assert.Equal(-Ln2, lp[0], 5);
        Assert.Equal(-2 * Ln2, lp[1], 5);
        var p = LogitMetrics.Probability(t, [2, 0]);
        Assert.Equal(0.5f, p[0], 5);
        Assert.Equal(0.25f, p[1], 5);
    }

    [Fact]
    public void LogProbIsStableForHugeLogits()
    {
        var t = new Tensor([1000f, 1000f, -1000f], 1, 3);
        var lp = LogitMetrics.LogProb(t, [0]);
        Assert.Equal(-Ln2, lp[0], 5);
        Assert.True(float.IsFinite(LogitMetrics.LogProb(t, [2])[0]));
    }

    [Fact]
    public void KlDivergenceByHand()
    {
        // clean p = [1/2, 1/2]; patched q = [1/4, 3/4]: KL = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3).
        var clean = new Tensor([0f, 0f, 5f, 1f], 2, 2);
        var patched = new Tensor([0f, Ln3, 5f, 1f], 2, 2);
        var kl = LogitMetrics.KlDivergence(clean, patched);
        Assert.Equal(0.5f * MathF.Log(4f / 3f), kl[0], 5);
        Assert.Equal(0f, kl[1], 6);
        Assert.Throws<ShapeMismatchException>(() => LogitMetrics.KlDivergence(clean, new Tensor(new float[6], 2, 3)));
    }

    [Fact]
    public void BadAnswersGiveClearErrors()
    {
        var e = Assert.Throws<InvalidInputException>(() => LogitDiff.PerPrompt(Logits(), [(1, 9), (0, 1)]));
        Assert.Contains("token id 9", e.Message);
        Assert.Throws<InvalidInputException>(() => LogitDiff.PerPrompt(Logits(), [(1, 2)]));
        Assert.Throws<ShapeMismatchException>(() => LogitDiff.PerPrompt(new Tensor(new float[4], 4), [(1, 2)]));
    }

    [Fact]
    public void LogitDiffMetricWorksOnFullAndCompactLogits()
    {
        var answers = new[] { (1, 2), (3, 1) };
        var metric = new LogitDiffMetric(answers);
        Assert.Equal([1, 2, 3], metric.NeededTokens);
        var full = metric.PerPrompt(Logits());
        // Compact: columns are tokens 1, 2, 3 in that order.
        var l = Logits();
        var compact = new Tensor([l[0, 1], l[0, 2], l[0, 3], l[1, 1], l[1, 2], l[1, 3]], 2, 3);
        Assert.Equal(full, metric.PerPrompt(compact));
        Assert.Equal(LogitDiff.PerPrompt(Logits(), answers), full);
    }

    [Fact]
    public void LogitViewMapsTokenIdsToColumns()
    {
        var compact = new Tensor([10f, 20f, 30f, 40f], 2, 2);
        var view = LogitView.Create(compact, [50256, 7]);
        Assert.False(view.IsFull);
        Assert.Equal(20f, view[0, 7]);
        Assert.Equal(30f, view[1, 50256]);
        Assert.Throws<InvalidInputException>(() => view[0, 8]);
        Assert.True(LogitView.Create(Logits(), [1]).IsFull);
    }

    [Fact]
    public void DistributionMetricsNeedFullVocabulary()
    {
        var t = Logits();
        Assert.Null(new LogProbMetric([0, 1]).NeededTokens);
        Assert.Null(new ProbabilityMetric([0, 1]).NeededTokens);
        Assert.Null(new KlMetric(t).NeededTokens);
        Assert.Equal(LogitMetrics.LogProb(t, [0, 1]), new LogProbMetric([0, 1]).PerPrompt(t));
        Assert.Equal(LogitMetrics.Probability(t, [0, 1]), new ProbabilityMetric([0, 1]).PerPrompt(t));
        Assert.Equal([0f, 0f], new KlMetric(t).PerPrompt(t));
    }

    [Fact]
    public void DelegateMetricChecksItsOutput()
    {
        var ok = new DelegateMetric(x => new float[x.Dim(0)]);
        Assert.Null(ok.NeededTokens);
        Assert.Equal(2, ok.PerPrompt(Logits()).Length);
        var bad = new DelegateMetric(_ => new float[1]);
        Assert.Throws<InvalidInputException>(() => bad.PerPrompt(Logits()));
        var withTokens = new DelegateMetric(x => LogitDiff.PerPrompt(LogitView.Create(x, [3, 0]), [(3, 0), (3, 0)]), [3, 0]);
        Assert.Equal([3, 0], withTokens.NeededTokens);
        Assert.Equal([-0.5f, 4f], withTokens.PerPrompt(new Tensor([0.5f, 1f, 4f, 0f], 2, 2)));
    }

    [Fact]
    public void NormalizeByHand()
    {
        Assert.Equal(0.5f, PatchingScore.Normalize(2f, 3f, 1f));
        Assert.Equal(1f, PatchingScore.Normalize(3f, 3f, 1f));
        Assert.Equal(0f, PatchingScore.Normalize(1f, 3f, 1f));
        Assert.Equal([-0.5f, 1.5f], PatchingScore.Normalize([0f, 4f], 3f, 1f));
        var grid = Grid.FromPerPrompt(new Tensor([2f, 3f, 1f, 5f], 2, 1, 2), ["0"], ["a", "b"]);
        var norm = PatchingScore.Normalize(grid, 3f, 1f);
        Assert.Equal([0.25f, 1.5f], norm.Values.Data); // means [1.5, 4]
        Assert.Equal([0.5f, 1f, 0f, 2f], norm.PerPrompt!.Data);
    }

    [Fact]
    public void NormalizeRejectsEqualCleanAndCorrupted()
    {
        var e = Assert.Throws<InvalidInputException>(() => PatchingScore.Normalize(1f, 2.5f, 2.5f));
        Assert.Equal("clean and corrupted scores are equal (2.5): the normalized patching score is undefined; choose prompts where the metric differs", e.Message);
    }
}
