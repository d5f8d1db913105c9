using SharpLens.Tensors;

namespace SharpLens.Analysis.Attribution;

/// <summary>One cell where attribution and exact patching disagree: Diff = Attribution - Exact.</summary>
public sealed record Disagreement(string Row, string Col, float Attribution, float Exact, float Diff);

/// <summary>How well an attribution grid predicts exact patching: correlations over all cells and the worst cells.</summary>
public sealed record AgreementReport(double Pearson, double Spearman, int Cells, double MeanAbsDiff, IReadOnlyList<Disagreement> Largest);

/// <summary>Compares attribution-patching estimates with exact activation patching.</summary>
public static class AttributionAgreement
{
    /// <summary>
    /// Pearson and Spearman (average ranks for ties) over the cells' mean values, and the <paramref name="top"/> cells
    /// with the largest |attribution - exact|. Both grids must be in the same units (raw metric change: use
    /// <see cref="ExactChange"/> on exact patching results) and carry the same labels.
    /// </summary>
    public static AgreementReport Compare(Grid attribution, Grid exactChange, int top = 10)
    {
        if (attribution.Rows.Count != exactChange.Rows.Count || attribution.Cols.Count != exactChange.Cols.Count)
            throw new ShapeMismatchException($"attribution grid [{attribution.Rows.Count}, {attribution.Cols.Count}] and exact grid [{exactChange.Rows.Count}, {exactChange.Cols.Count}] differ in shape");
        if (!attribution.Rows.SequenceEqual(exactChange.Rows) || !attribution.Cols.SequenceEqual(exactChange.Cols))
            throw new InvalidInputException("attribution and exact grids have different row/column labels: compare grids of the same patching target");
        var a = attribution.Values.Data; var e = exactChange.Values.Data;
        int n = a.Length, cols = attribution.Cols.Count;
        double mad = 0;
        for (int i = 0; i < n; i++) mad += Math.Abs(a[i] - (double)e[i]);
        var largest = Enumerable.Range(0, n)
            .OrderByDescending(i => Math.Abs(a[i] - (double)e[i]))
            .Take(Math.Max(0, top))
            .Select(i => new Disagreement(attribution.Rows[i / cols], attribution.Cols[i % cols], a[i], e[i], a[i] - e[i]))
            .ToList();
        return new AgreementReport(Pearson(a, e), Pearson(Ranks(a), Ranks(e)), n, n == 0 ? 0 : mad / n, largest);
    }

    /// <summary>Exact patching results (raw metric after patching) minus the corrupted baseline; per prompt when both are given.</summary>
    public static Grid ExactChange(Grid exactPatched, float corruptedBaseline, IReadOnlyList<float>? corruptedPerPrompt = null)
    {
        var shifted = Shift(exactPatched, -corruptedBaseline, corruptedPerPrompt?.Select(v => -v).ToArray());
        return new Grid(shifted.Values, shifted.Rows, shifted.Cols, shifted.PerPrompt)
        {
            Title = exactPatched.Title is null ? null : exactPatched.Title + " (change)",
            RowTitle = exactPatched.RowTitle, ColTitle = exactPatched.ColTitle,
        };
    }

    /// <summary>An estimated change plus the metric of the run it changes ([prompt] <paramref name="baseline"/>): the
    /// estimate as a RAW patched metric, the units exact patching reports.</summary>
    public static Grid AddBaseline(Grid change, IReadOnlyList<float> baseline) =>
        Shift(change, (float)baseline.Average(v => (double)v), baseline);

    /// <summary><paramref name="grid"/> + <paramref name="mean"/> in Values and + perPrompt[p] in prompt p's values.</summary>
    private static Grid Shift(Grid grid, float mean, IReadOnlyList<float>? perPrompt)
    {
        var values = grid.Values.Clone();
        System.Numerics.Tensors.TensorPrimitives.Add(values.Data, mean, values.Data);
        Tensor? pp = null;
        if (grid.PerPrompt is not null && perPrompt is not null)
        {
            pp = grid.PerPrompt.Clone();
            int prompts = pp.Dim(0), cells = pp.Length / Math.Max(1, prompts);
            if (perPrompt.Count != prompts)
                throw new InvalidInputException($"{perPrompt.Count} per-prompt baselines for a grid of {prompts} prompts");
            for (int p = 0; p < prompts; p++)
                System.Numerics.Tensors.TensorPrimitives.Add(pp.Data.AsSpan(p * cells, cells), perPrompt[p], pp.Data.AsSpan(p * cells, cells));
        }
        return new Grid(values, grid.Rows, grid.Cols, pp) { Title = grid.Title, RowTitle = grid.RowTitle, ColTitle = grid.ColTitle };
    }

    /// <summary>Pearson correlation; NaN when either side is constant.</summary>
    public static double Pearson(IReadOnlyList<float> x, IReadOnlyList<float> y) =>
        Pearson(x.Select(v => (double)v).ToArray(), y.Select(v => (double)v).ToArray());

    private static double Pearson(double[] x, double[] y)
    {
        int n = x.Length;
        if (n != y.Length) throw new ShapeMismatchException($"correlation of {n} and {y.Length} values");
        if (n < 2) return double.NaN;
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>1-based ranks, ties get their average rank.</summary>
    internal static double[] Ranks(IReadOnlyList<float> x)
    {
        var order = Enumerable.Range(0, x.Count).OrderBy(i => x[i]).ToArray();
        var ranks = new double[x.Count];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && x[order[j + 1]] == x[order[i]]) j++;
            double r = (i + j) / 2.0 + 1;
            for (int t = i; t <= j; t++) ranks[order[t]] = r;
            i = j + 1;
        }
        return ranks;
    }

    private static double Pearson(float[] x, float[] y) => Pearson(x.Select(v => (double)v).ToArray(), y.Select(v => (double)v).ToArray());
}
