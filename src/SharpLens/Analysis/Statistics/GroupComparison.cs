using System.Globalization;
using System.Text;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Statistics;

/// <summary>One cell of a <see cref="GroupComparison"/>: group means, their difference with a bootstrap interval,
/// the permutation p-value and the multiple-comparison adjusted p-value.</summary>
public sealed record CellComparison(
    string Row, string Col, int RowIndex, int ColIndex,
    float MeanA, float MeanB, float Diff, float DiffLower, float DiffUpper,
    double PValue, double PAdjusted, bool Significant);

/// <summary>Every cell's comparison, sorted by adjusted p (then raw p, then row, then column).</summary>
public sealed class GroupComparisonResult
{
    /// <summary>One comparison per cell, sorted by adjusted p-value.</summary>
    public IReadOnlyList<CellComparison> Cells { get; }
    /// <summary>True when prompts were paired (the same prompts in both groups; differences taken per prompt).</summary>
    public bool Paired { get; }
    /// <summary>The multiple-comparison correction applied across the cells.</summary>
    public Correction Correction { get; }
    /// <summary>Significance level the adjusted p-values are compared with.</summary>
    public double Alpha { get; }
    /// <summary>Confidence level of the bootstrap intervals (e.g. 0.95).</summary>
    public double Level { get; }
    /// <summary>Row labels of the compared grids.</summary>
    public IReadOnlyList<string> Rows { get; }
    /// <summary>Column labels of the compared grids.</summary>
    public IReadOnlyList<string> Cols { get; }

    internal GroupComparisonResult(IReadOnlyList<CellComparison> cells, bool paired, Correction correction, double alpha, double level,
        IReadOnlyList<string> rows, IReadOnlyList<string> cols)
    {
        Cells = cells; Paired = paired; Correction = correction; Alpha = alpha; Level = level; Rows = rows; Cols = cols;
    }

    /// <summary>Cells whose adjusted p-value is below <see cref="Alpha"/>.</summary>
    public IEnumerable<CellComparison> Significant => Cells.Where(c => c.Significant);

    /// <summary>The comparison for (row, col).</summary>
    public CellComparison this[int row, int col] => Cells.First(c => c.RowIndex == row && c.ColIndex == col);

    /// <summary>Grid of mean differences (A - B), laid out like the inputs.</summary>
    public Grid DiffGrid()
    {
        var d = new float[Rows.Count * Cols.Count];
        foreach (var c in Cells) d[c.RowIndex * Cols.Count + c.ColIndex] = c.Diff;
        return new Grid(new Tensor(d, Rows.Count, Cols.Count), Rows, Cols) { Title = "mean difference (A - B)" };
    }

    /// <summary>A plain-text table of the first <paramref name="maxRows"/> cells (all when null).</summary>
    public string ToTable(int? maxRows = null)
    {
        var sb = new StringBuilder();
        string ci = $"{Level * 100:G3}% CI";
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"row",-8} {"col",-12} {"meanA",9} {"meanB",9} {"diff",9} {ci,-21} {"p",9} {"p_adj",9} sig");
        foreach (var c in maxRows is null ? Cells : Cells.Take(maxRows.Value))
            sb.AppendLine(string.Format(CultureInfo.InvariantCulture,
                "{0,-8} {1,-12} {2,9:F4} {3,9:F4} {4,9:F4} [{5,8:F4}, {6,8:F4}] {7,9:G3} {8,9:G3} {9}",
                c.Row, c.Col, c.MeanA, c.MeanB, c.Diff, c.DiffLower, c.DiffUpper, c.PValue, c.PAdjusted, c.Significant ? "*" : ""));
        return sb.ToString();
    }

    /// <summary>The table of the 20 most significant cells.</summary>
    public override string ToString() => ToTable(20);
}

/// <summary>
/// Compares two grids cell by cell over their per-prompt values: "is each component's score different between
/// group A and group B, and which differences survive multiple-comparison correction?"
/// </summary>
public static class GroupComparison
{
    /// <summary>
    /// For every cell: mean of A, mean of B, diff = meanA - meanB, a bootstrap percentile interval of diff, a
    /// permutation p-value (<see cref="PermutationTest.Paired"/> when <paramref name="paired"/>, else
    /// <see cref="PermutationTest.TwoSample"/>), the p-value adjusted across all cells with
    /// <paramref name="correction"/>, and Significant = p_adjusted &lt; <paramref name="alpha"/>.
    /// Paired requires the same prompts, in the same order, in both grids (prompt i of A matches prompt i of B);
    /// use unpaired for different prompt groups. Deterministic for a seed.
    /// </summary>
    public static GroupComparisonResult Compare(Grid a, Grid b, bool paired, Correction correction = Correction.Holm,
        double alpha = 0.05, int permutations = 10000, int resamples = 2000, double level = 0.95, int seed = 0,
        Alternative alternative = Alternative.TwoSided)
    {
        var ppA = a.PerPrompt ?? throw new InvalidInputException("grid A has no per_prompt values; group comparisons need per-prompt scores");
        var ppB = b.PerPrompt ?? throw new InvalidInputException("grid B has no per_prompt values; group comparisons need per-prompt scores");
        if (!a.Rows.SequenceEqual(b.Rows) || !a.Cols.SequenceEqual(b.Cols))
            throw new InvalidInputException($"grids must have the same row and column labels to be compared cell by cell (A is {a.Rows.Count}x{a.Cols.Count}, B is {b.Rows.Count}x{b.Cols.Count})");
        int nA = ppA.Dim(0), nB = ppB.Dim(0);
        if (paired && nA != nB)
            throw new InvalidInputException($"a paired comparison needs the same prompts in both groups, got {nA} and {nB}; pass paired: false for different prompt groups");
        if (nA == 0 || nB == 0) throw new InvalidInputException($"each group needs at least one prompt, got {nA} and {nB}");
        if (!(alpha > 0 && alpha < 1)) throw new InvalidInputException($"alpha must be in (0, 1), got {alpha}");
        int rows = a.Rows.Count, cols = a.Cols.Count, cells = rows * cols;
        var results = new CellComparison[cells];
        var p = new double[cells];
        ParallelCells.For(cells, c =>
        {
            var va = new float[nA]; var vb = new float[nB];
            for (int i = 0; i < nA; i++) va[i] = ppA.Data[i * cells + c];
            for (int i = 0; i < nB; i++) vb[i] = ppB.Data[i * cells + c];
            string where = $"cell ({a.Rows[c / cols]}, {a.Cols[c % cols]})";
            try
            {
                TestResult test;
                ConfidenceInterval ci;
                if (paired)
                {
                    test = PermutationTest.Paired(va, vb, permutations, seed, alternative);
                    var d = new float[nA];
                    for (int i = 0; i < nA; i++) d[i] = va[i] - vb[i];
                    ci = Bootstrap.ConfidenceInterval(d, null, resamples, level, seed);
                }
                else
                {
                    test = PermutationTest.TwoSample(va, vb, permutations, seed, alternative);
                    ci = Bootstrap.MeanDifferenceInterval(va, vb, resamples, level, seed);
                }
                float meanA = Bootstrap.Mean(va), meanB = Bootstrap.Mean(vb);
                p[c] = test.PValue;
                results[c] = new CellComparison(a.Rows[c / cols], a.Cols[c % cols], c / cols, c % cols,
                    meanA, meanB, meanA - meanB, ci.Lower, ci.Upper, test.PValue, double.NaN, false);
            }
            catch (InvalidInputException e)
            {
                throw new InvalidInputException($"{where}: {e.Message}", e);
            }
        });
        var adjusted = MultipleComparisons.Adjust(p, correction);
        for (int c = 0; c < cells; c++)
            results[c] = results[c] with { PAdjusted = adjusted[c], Significant = adjusted[c] < alpha };
        var sorted = results.OrderBy(r => r.PAdjusted).ThenBy(r => r.PValue).ThenBy(r => r.RowIndex).ThenBy(r => r.ColIndex).ToArray();
        return new GroupComparisonResult(sorted, paired, correction, alpha, level, a.Rows, a.Cols);
    }
}
