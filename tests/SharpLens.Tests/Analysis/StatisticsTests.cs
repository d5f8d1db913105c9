using SharpLens.Analysis;
using SharpLens.Analysis.Statistics;
using SharpLens.Tensors;

namespace SharpLens.Tests.Analysis;

public class StatisticsTests
{
    private static void Close(double[] expected, double[] actual, int digits = 10)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], digits);
    }

    [Fact]
    public void HolmKnownValues()
    {
        Close([0.03, 0.06, 0.06, 0.02], MultipleComparisons.Holm([0.01, 0.04, 0.03, 0.005]));
        Close([0.05, 0.08, 0.09, 0.09, 0.09], MultipleComparisons.Holm([0.01, 0.02, 0.03, 0.04, 0.05]));
        Close([1, 1], MultipleComparisons.Holm([0.5, 0.6]));
        Assert.Empty(MultipleComparisons.Holm([]));
    }

    [Fact]
    public void BenjaminiHochbergKnownValues()
    {
        Close([0.02, 0.04, 0.04, 0.02], MultipleComparisons.BenjaminiHochberg([0.01, 0.04, 0.03, 0.005]));
        Close([0.05, 0.05, 0.05, 0.05, 0.05], MultipleComparisons.BenjaminiHochberg([0.01, 0.02, 0.03, 0.04, 0.05]));
        Close([0.6, 0.6], MultipleComparisons.BenjaminiHochberg([0.5, 0.6]));
        Assert.Throws<InvalidInputException>(() => MultipleComparisons.Holm([0.1, double.NaN]));
        Assert.Throws<InvalidInputException>(() => MultipleComparisons.BenjaminiHochberg([1.5]));
    }

    [Fact]
    public void ExactPairedPermutationByHand()
    {
        // d = [1, 2, 3]: the 8 sign-flipped sums are 6, 4, 2, 0, 0, -2, -4, -6.
        float[] a = [2, 4, 6], b = [1, 2, 3];
        var two = PermutationTest.Paired(a, b);
        Assert.True(two.Exact);
        Assert.Equal(8, two.Permutations);
        Assert.Equal(2.0, two.MeanDifference, 10);
        Assert.Equal(2.0 / 8, two.PValue, 12);
        Assert.Equal(1.0 / 8, PermutationTest.Paired(a, b, alternative: Alternative.Greater).PValue, 12);
        Assert.Equal(1.0, PermutationTest.Paired(a, b, alternative: Alternative.Less).PValue, 12);
        // d = [1, -2, 3, 4], sum 6: |10 - 2S| >= 6 for flipped-subset sums S <= 2 or S >= 8 -> 6 of 16.
        Assert.Equal(6.0 / 16, PermutationTest.Paired([1, -2, 3, 4], [0, 0, 0, 0]).PValue, 12);
    }

    [Fact]
    public void ExactTwoSampleByHand()
    {
        // Pool {1,2,3,4}, |A| = 2: the 6 splits give mean differences -2, -1, 0, 0, 1, 2.
        var r = PermutationTest.TwoSample([1, 2], [3, 4]);
        Assert.True(r.Exact);
        Assert.Equal(6, r.Permutations);
        Assert.Equal(-2.0, r.MeanDifference, 10);
        Assert.Equal(2.0 / 6, r.PValue, 12);
        Assert.Equal(1.0 / 6, PermutationTest.TwoSample([1, 2], [3, 4], alternative: Alternative.Less).PValue, 12);
        Assert.Equal(1.0, PermutationTest.TwoSample([1, 2], [3, 4], alternative: Alternative.Greater).PValue, 12);
    }

    [Fact]
    public void MonteCarloPermutationIsSeededAndUsesPlusOneFormula()
    {
        var rng = new Random(1);
        var a = Enumerable.Range(0, 40).Select(_ => (float)rng.NextDouble()).ToArray();
        var b = a.Select(x => x + 0.05f * (float)(rng.NextDouble() - 0.3)).ToArray();
        var r1 = PermutationTest.Paired(a, b, permutations: 999, seed: 3);
        var r2 = PermutationTest.Paired(a, b, permutations: 999, seed: 3);
        Assert.False(r1.Exact);
        Assert.Equal(r1, r2);
        double count = r1.PValue * 1000 - 1;
        Assert.Equal(Math.Round(count), count, 6);
        // All differences positive: no flip beats the observed sum except (almost surely) none -> p = 1/1000.
        var up = PermutationTest.Paired(a.Select(x => x + 1).ToArray(), a, permutations: 999);
        Assert.Equal(1.0 / 1000, up.PValue, 12);
        var two = PermutationTest.TwoSample(a, b.Take(30).ToArray(), permutations: 500, seed: 2);
        Assert.False(two.Exact);
        Assert.Equal(two, PermutationTest.TwoSample(a, b.Take(30).ToArray(), permutations: 500, seed: 2));
        Assert.Throws<InvalidInputException>(() => PermutationTest.Paired(a, b.Take(3).ToArray()));
    }

    private static float[] Normal(Random rng, int n, double mean, double sd)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = (float)(mean + sd * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    [Fact]
    public void BootstrapCoversTrueMeanAbout95Percent()
    {
        var rng = new Random(42);
        int trials = 300, covered = 0;
        for (int t = 0; t < trials; t++)
        {
            var ci = Bootstrap.ConfidenceInterval(Normal(rng, 30, 5, 2), resamples: 1000, seed: t);
            if (ci.Contains(5f)) covered++;
        }
        double coverage = (double)covered / trials;
        Assert.InRange(coverage, 0.88, 0.99);
    }

    [Fact]
    public void BootstrapIsDeterministicForASeed()
    {
        var x = Normal(new Random(7), 25, 0, 1);
        var c1 = Bootstrap.ConfidenceInterval(x, resamples: 2000, seed: 5);
        Assert.Equal(c1, Bootstrap.ConfidenceInterval(x, resamples: 2000, seed: 5));
        Assert.NotEqual(c1, Bootstrap.ConfidenceInterval(x, resamples: 2000, seed: 6));
        Assert.Equal(x.Average(), c1.Estimate, 5);
        Assert.True(c1.Lower < c1.Estimate && c1.Estimate < c1.Upper);
        // Custom statistic (median) and BCa.
        var med = Bootstrap.ConfidenceInterval(x, s => { var c = (float[])s.Clone(); Array.Sort(c); return c[c.Length / 2]; }, resamples: 1000);
        Assert.True(med.Lower <= med.Estimate && med.Estimate <= med.Upper);
        var skew = x.Select(v => MathF.Exp(v)).ToArray();
        var bca = Bootstrap.ConfidenceInterval(skew, resamples: 2000, method: BootstrapMethod.BCa);
        var pct = Bootstrap.ConfidenceInterval(skew, resamples: 2000);
        Assert.True(bca.Lower < bca.Estimate && bca.Estimate < bca.Upper);
        Assert.NotEqual(pct, bca);
        var one = Bootstrap.ConfidenceInterval([3f], resamples: 10);
        Assert.Equal(new ConfidenceInterval(3f, 3f, 3f, 0.95), one);
        Assert.Throws<InvalidInputException>(() => Bootstrap.ConfidenceInterval([], resamples: 10));
    }

    [Fact]
    public void GridIntervalsMatchPerCellBootstrap()
    {
        var rng = new Random(3);
        int prompts = 12;
        var pp = new Tensor(Normal(rng, prompts * 6, 1, 1), prompts, 2, 3);
        var grid = Grid.FromPerPrompt(pp, ["0", "1"], ["a", "b", "c"]);
        var cis = Bootstrap.GridIntervals(grid, resamples: 500, seed: 9);
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 3; c++)
            {
                var cell = Enumerable.Range(0, prompts).Select(p => pp[p, r, c]).ToArray();
                var ci = Bootstrap.ConfidenceInterval(cell, resamples: 500, seed: 9);
                Assert.Equal(ci.Lower, cis.Lower[r, c]);
                Assert.Equal(ci.Upper, cis.Upper[r, c]);
                Assert.Equal(grid[r, c], cis.Estimate[r, c], 5);
            }
        var noPrompts = new Grid(Tensor.Zeros(1, 1), ["0"], ["a"]);
        Assert.Throws<InvalidInputException>(() => Bootstrap.GridIntervals(noPrompts));
    }

    [Fact]
    public void GroupComparisonFindsTheRealDifference()
    {
        var rng = new Random(11);
        int n = 12;
        var a = Normal(rng, n * 4, 0, 0.1);
        var b = Normal(rng, n * 4, 0, 0.1);
        for (int p = 0; p < n; p++) a[p * 4 + 3] += 1f; // cell (1, "y") is higher in A
        var gridA = Grid.FromPerPrompt(new Tensor(a, n, 2, 2), ["0", "1"], ["x", "y"]);
        var gridB = Grid.FromPerPrompt(new Tensor(b, n, 2, 2), ["0", "1"], ["x", "y"]);
        foreach (bool paired in new[] { true, false })
        {
            var result = GroupComparison.Compare(gridA, gridB, paired, Correction.Holm, permutations: 2000, resamples: 500);
            var top = result.Cells[0];
            Assert.Equal(("1", "y"), (top.Row, top.Col));
            Assert.True(top.Significant);
            Assert.True(top.DiffLower > 0.5f && top.DiffUpper < 1.5f);
            Assert.Equal(gridA[1, 1] - gridB[1, 1], top.Diff, 5);
            Assert.Single(result.Significant);
            for (int i = 1; i < result.Cells.Count; i++)
                Assert.True(result.Cells[i - 1].PAdjusted <= result.Cells[i].PAdjusted);
            Assert.Contains("p_adj", result.ToTable());
            Assert.Equal(top.Diff, result.DiffGrid()[1, 1]);
        }
        var bh = GroupComparison.Compare(gridA, gridB, paired: true, Correction.BenjaminiHochberg, permutations: 500, resamples: 200);
        Assert.Equal(MultipleComparisons.BenjaminiHochberg(bh.Cells.Select(c => c.PValue).ToArray()), bh.Cells.Select(c => c.PAdjusted).ToArray());
        var shorter = Grid.FromPerPrompt(new Tensor(b[..(4 * 5)], 5, 2, 2), ["0", "1"], ["x", "y"]);
        Assert.Throws<InvalidInputException>(() => GroupComparison.Compare(gridA, shorter, paired: true));
        Assert.False(GroupComparison.Compare(gridA, shorter, paired: false, permutations: 300, resamples: 200).Paired);
    }

    [Fact]
    public void NormalQuantilesAndExactLimit()
    {
        Assert.Equal(1.959964, SharpLens.Analysis.Statistics.Normal.InverseCdf(0.975), 5);
        Assert.Equal(-1.644854, SharpLens.Analysis.Statistics.Normal.InverseCdf(0.05), 5);
        Assert.Equal(0.975, SharpLens.Analysis.Statistics.Normal.Cdf(1.959964), 6);
        var ones = Enumerable.Repeat(1f, 16).ToArray();
        var zeros = new float[16];
        var exact = PermutationTest.Paired(ones, zeros);
        Assert.True(exact.Exact);
        Assert.Equal(65536, exact.Permutations);
        Assert.Equal(2.0 / 65536, exact.PValue, 12);
        Assert.False(PermutationTest.Paired([.. ones, 1f], [.. zeros, 0f], permutations: 100).Exact);
        // Zero differences: every flip ties the observed statistic.
        Assert.Equal(1.0, PermutationTest.Paired(ones, ones).PValue);
    }

    [Fact]
    public void NormalMeanIntervalIsMeanPlusMinusZTimesTheStandardError()
    {
        double[] x = [1.0, 1.5, 0.8, 1.2];
        double mean = 1.125, sd = Math.Sqrt(((-0.125 * -0.125) + (0.375 * 0.375) + (-0.325 * -0.325) + (0.075 * 0.075)) / 3);
        var (m, lo, hi) = SharpLens.Analysis.Statistics.Normal.MeanInterval(x);
        Assert.Equal(mean, m, 12);
        Assert.Equal(mean - 1.96 * sd / 2, lo, 12);
        Assert.Equal(mean + 1.96 * sd / 2, hi, 12);
        Assert.Equal((2.0, 2.0, 2.0), SharpLens.Analysis.Statistics.Normal.MeanInterval([2.0]));
        Assert.True(double.IsNaN(SharpLens.Analysis.Statistics.Normal.MeanInterval([]).Mean));
        var (_, lo99, hi99) = SharpLens.Analysis.Statistics.Normal.MeanInterval(x, z: 2.576);
        Assert.True(lo99 < lo && hi99 > hi);
    }

    [Fact]
    public void JaccardCountsDistinctElementsAndCallsTwoEmptySetsEqual()
    {
        Assert.Equal(1.0 / 3, SetOverlap.Jaccard(["a", "b"], ["b", "c"]), 12);
        Assert.Equal(1.0 / 3, SetOverlap.Jaccard(["a", "b", "b", "a"], ["c", "b"]), 12);
        Assert.Equal(0.0, SetOverlap.Jaccard(["a"], ["b"]));
        Assert.Equal(1.0, SetOverlap.Jaccard(["a", "b"], ["b", "a"]));
        Assert.Equal(1.0, SetOverlap.Jaccard(Array.Empty<string>(), []));
        Assert.Equal(0.0, SetOverlap.Jaccard(["a"], []));
        Assert.Equal(1.0, SetOverlap.Jaccard(["A", "b"], ["a", "B"], StringComparer.OrdinalIgnoreCase));
    }
}
