namespace SharpLens.Analysis.Statistics;

/// <summary>Multiple-comparison corrections.</summary>
public enum Correction
{
    /// <summary>Holm-Bonferroni step-down: controls the family-wise error rate.</summary>
    Holm,
    /// <summary>Benjamini-Hochberg step-up: controls the false discovery rate.</summary>
    BenjaminiHochberg,
    /// <summary>No correction (adjusted = raw).</summary>
    None,
}

/// <summary>
/// Adjusted p-values for families of tests; results match R's <c>p.adjust(p, "holm")</c> and
/// <c>p.adjust(p, "BH")</c>: same order as the input, monotone in the raw p-values, capped at 1.
/// </summary>
public static class MultipleComparisons
{
    /// <summary>Adjusted p-values of <paramref name="p"/> under <paramref name="correction"/>, in the input's order.</summary>
    public static double[] Adjust(double[] p, Correction correction) => correction switch
    {
        Correction.Holm => Holm(p),
        Correction.BenjaminiHochberg => BenjaminiHochberg(p),
        _ => Validate(p).ToArray(),
    };

    /// <summary>Holm: sorted ascending, adj_(i) = max_{j&lt;=i} min(1, (m - j + 1) p_(j)).</summary>
    public static double[] Holm(double[] p)
    {
        Validate(p);
        int m = p.Length;
        var order = SortedOrder(p);
        var adj = new double[m];
        double running = 0;
        for (int r = 0; r < m; r++)
        {
            running = Math.Max(running, Math.Min(1, (m - r) * p[order[r]]));
            adj[order[r]] = running;
        }
        return adj;
    }

    /// <summary>Benjamini-Hochberg: sorted ascending, adj_(i) = min_{j&gt;=i} min(1, m p_(j) / j).</summary>
    public static double[] BenjaminiHochberg(double[] p)
    {
        Validate(p);
        int m = p.Length;
        var order = SortedOrder(p);
        var adj = new double[m];
        double running = 1;
        for (int r = m - 1; r >= 0; r--)
        {
            running = Math.Min(running, Math.Min(1, (double)m / (r + 1) * p[order[r]]));
            adj[order[r]] = running;
        }
        return adj;
    }

    private static int[] SortedOrder(double[] p)
    {
        var order = Enumerable.Range(0, p.Length).ToArray();
        Array.Sort(order, (x, y) => p[x] != p[y] ? p[x].CompareTo(p[y]) : x.CompareTo(y));
        return order;
    }

    private static double[] Validate(double[] p)
    {
        ArgumentNullException.ThrowIfNull(p);
        for (int i = 0; i < p.Length; i++)
            if (!(p[i] >= 0 && p[i] <= 1))
                throw new InvalidInputException($"p-value {i} is {p[i]}, outside [0, 1]; pass valid p-values");
        return p;
    }
}
