using SharpLens.Tensors;

namespace SharpLens.Analysis.Statistics;

/// <summary>A point estimate with a two-sided confidence interval at <see cref="Level"/> (e.g. 0.95).</summary>
public sealed record ConfidenceInterval(float Estimate, float Lower, float Upper, double Level)
{
    /// <summary>Whether <paramref name="value"/> lies in [Lower, Upper].</summary>
    public bool Contains(float value) => value >= Lower && value <= Upper;
    /// <summary>E.g. "1.234 [0.9, 1.5] (95% CI)".</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{Estimate:G4} [{Lower:G4}, {Upper:G4}] ({Level * 100:G3}% CI)");
}

/// <summary>How a bootstrap interval is read off the resampled statistics.</summary>
public enum BootstrapMethod
{
    /// <summary>Quantiles alpha/2 and 1-alpha/2 of the bootstrap distribution.</summary>
    Percentile,
    /// <summary>Bias-corrected and accelerated (Efron 1987): percentile with quantiles shifted by the
    /// bootstrap bias z0 and the jackknife acceleration a. Better coverage for skewed statistics.</summary>
    BCa,
}

/// <summary>Lower and upper interval bounds for every cell of a grid (same rows/cols as the source).</summary>
public sealed record GridConfidenceIntervals(Grid Estimate, Grid Lower, Grid Upper, double Level);

/// <summary>Nonparametric bootstrap over prompts.</summary>
public static class Bootstrap
{
    /// <summary>
    /// Bootstrap confidence interval for <paramref name="statistic"/> (default: the mean) of per-prompt values.
    /// Draws <paramref name="resamples"/> samples of size n with replacement using <c>new Random(seed)</c>, so the
    /// result is deterministic for a seed. The array passed to a custom statistic is reused between calls: read it,
    /// do not keep it. With one value the interval is that value.
    /// </summary>
    public static ConfidenceInterval ConfidenceInterval(ReadOnlySpan<float> perPromptValues, Func<float[], float>? statistic = null,
        int resamples = 10000, double level = 0.95, int seed = 0, BootstrapMethod method = BootstrapMethod.Percentile)
    {
        Validate(perPromptValues, resamples, level, "values");
        var values = perPromptValues.ToArray();
        float estimate = statistic is null ? Mean(values) : statistic((float[])values.Clone());
        var dist = Distribution(values, statistic, resamples, seed, indices: null);
        return Interval(values, statistic, estimate, dist, level, method);
    }

    /// <summary>
    /// Bootstrap interval of mean(a) - mean(b) for two independent (unpaired) groups, each resampled on its own.
    /// For paired values pass the differences a[i] - b[i] to <see cref="ConfidenceInterval(ReadOnlySpan{float}, Func{float[], float}?, int, double, int, BootstrapMethod)"/> instead.
    /// </summary>
    public static ConfidenceInterval MeanDifferenceInterval(ReadOnlySpan<float> a, ReadOnlySpan<float> b,
        int resamples = 10000, double level = 0.95, int seed = 0)
    {
        Validate(a, resamples, level, "group A");
        Validate(b, resamples, level, "group B");
        var rng = new Random(seed);
        var dist = new float[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double sa = 0, sb = 0;
            for (int i = 0; i < a.Length; i++) sa += a[rng.Next(a.Length)];
            for (int i = 0; i < b.Length; i++) sb += b[rng.Next(b.Length)];
            dist[r] = (float)(sa / a.Length - sb / b.Length);
        }
        Array.Sort(dist);
        double alpha = 1 - level;
        float estimate = Mean(a) - Mean(b);
        return new ConfidenceInterval(estimate, Quantile(dist, alpha / 2), Quantile(dist, 1 - alpha / 2), level);
    }

    /// <summary>
    /// Per-cell bootstrap interval over the prompts of <paramref name="grid"/>'s per_prompt tensor [prompt, rows, cols].
    /// Every cell uses the same resampled prompt sets (the same seed), so the bounds of different cells are from
    /// the same bootstrap replicates. Returns the estimate (statistic of each cell), lower and upper grids.
    /// </summary>
    public static GridConfidenceIntervals GridIntervals(Grid grid, Func<float[], float>? statistic = null,
        int resamples = 10000, double level = 0.95, int seed = 0, BootstrapMethod method = BootstrapMethod.Percentile)
    {
        var pp = grid.PerPrompt ?? throw new InvalidInputException("the grid has no per_prompt values, so a bootstrap over prompts is impossible; keep per-prompt values when computing it");
        int n = pp.Dim(0), rows = grid.Rows.Count, cols = grid.Cols.Count, cells = rows * cols;
        if (n == 0) throw new InvalidInputException("the grid's per_prompt tensor has no prompts; a confidence interval needs at least one");
        if (resamples < 1) throw new InvalidInputException($"resamples must be at least 1, got {resamples}");
        if (!(level > 0 && level < 1)) throw new InvalidInputException($"confidence level must be in (0, 1), got {level}");
        int[]? indices = (long)resamples * n <= 1 << 22 ? DrawIndices(n, resamples, seed) : null;
        var est = new float[cells]; var lo = new float[cells]; var hi = new float[cells];
        ParallelCells.For(cells, c =>
        {
            var values = new float[n];
            for (int p = 0; p < n; p++) values[p] = pp.Data[p * cells + c];
            foreach (float v in values)
                if (!float.IsFinite(v)) throw new InvalidInputException($"grid cell ({grid.Rows[c / cols]}, {grid.Cols[c % cols]}) has a non-finite per-prompt value; bootstrap needs finite values");
            float e = statistic is null ? Mean(values) : statistic((float[])values.Clone());
            var dist = Distribution(values, statistic, resamples, seed, indices);
            var ci = Interval(values, statistic, e, dist, level, method);
            est[c] = ci.Estimate; lo[c] = ci.Lower; hi[c] = ci.Upper;
        });
        Grid Make(float[] d, string what) => new(new Tensor(d, rows, cols), grid.Rows, grid.Cols)
        {
            Title = grid.Title is null ? null : $"{grid.Title} ({what})", RowTitle = grid.RowTitle, ColTitle = grid.ColTitle,
        };
        return new GridConfidenceIntervals(Make(est, "estimate"), Make(lo, $"{level * 100:G3}% CI lower"), Make(hi, $"{level * 100:G3}% CI upper"), level);
    }

    // ---- internals -------------------------------------------------------------------------------------

    private static void Validate(ReadOnlySpan<float> values, int resamples, double level, string what)
    {
        if (values.Length == 0) throw new InvalidInputException($"{what}: a confidence interval needs at least one value");
        foreach (float v in values)
            if (!float.IsFinite(v)) throw new InvalidInputException($"{what}: contains a non-finite value ({v}); drop or fix such prompts before the bootstrap");
        if (resamples < 1) throw new InvalidInputException($"resamples must be at least 1, got {resamples}");
        if (!(level > 0 && level < 1)) throw new InvalidInputException($"confidence level must be in (0, 1), got {level}");
    }

    internal static float Mean(ReadOnlySpan<float> values)
    {
        double s = 0;
        foreach (float v in values) s += v;
        return (float)(s / values.Length);
    }

    private static int[] DrawIndices(int n, int resamples, int seed)
    {
        var rng = new Random(seed);
        var idx = new int[resamples * n];
        for (int i = 0; i < idx.Length; i++) idx[i] = rng.Next(n);
        return idx;
    }

    /// <summary>Sorted bootstrap distribution. <paramref name="indices"/>, when given, must be what
    /// <see cref="DrawIndices"/> gives for the same seed, so both paths return identical results.</summary>
    private static float[] Distribution(float[] values, Func<float[], float>? statistic, int resamples, int seed, int[]? indices)
    {
        int n = values.Length;
        var rng = indices is null ? new Random(seed) : null;
        var dist = new float[resamples];
        var buffer = statistic is null ? null : new float[n];
        for (int r = 0; r < resamples; r++)
        {
            if (statistic is null)
            {
                double s = 0;
                for (int i = 0; i < n; i++) s += values[indices is null ? rng!.Next(n) : indices[r * n + i]];
                dist[r] = (float)(s / n);
            }
            else
            {
                for (int i = 0; i < n; i++) buffer![i] = values[indices is null ? rng!.Next(n) : indices[r * n + i]];
                dist[r] = statistic(buffer!);
            }
        }
        Array.Sort(dist);
        return dist;
    }

    private static ConfidenceInterval Interval(float[] values, Func<float[], float>? statistic, float estimate, float[] sorted, double level, BootstrapMethod method)
    {
        double alpha = 1 - level;
        double qLo = alpha / 2, qHi = 1 - alpha / 2;
        if (method == BootstrapMethod.BCa && values.Length > 1 && sorted[0] != sorted[^1])
        {
            // Bias correction z0 from the share of replicates below the estimate (ties count half).
            int below = 0, ties = 0;
            foreach (float v in sorted) { if (v < estimate) below++; else if (v == estimate) ties++; }
            double share = (below + 0.5 * ties) / sorted.Length;
            share = Math.Clamp(share, 1.0 / (sorted.Length + 1), sorted.Length / (sorted.Length + 1.0));
            double z0 = Normal.InverseCdf(share);
            // Acceleration from the jackknife.
            int n = values.Length;
            var jack = new double[n];
            var buf = new float[n - 1];
            double jackMean = 0;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0, k = 0; j < n; j++) if (j != i) buf[k++] = values[j];
                jack[i] = statistic is null ? Mean(buf) : statistic(buf);
                jackMean += jack[i];
            }
            jackMean /= n;
            double num = 0, den = 0;
            foreach (double t in jack) { double d = jackMean - t; num += d * d * d; den += d * d; }
            double a = den > 0 ? num / (6 * Math.Pow(den, 1.5)) : 0;
            qLo = Adjust(z0, a, Normal.InverseCdf(alpha / 2));
            qHi = Adjust(z0, a, Normal.InverseCdf(1 - alpha / 2));
        }
        return new ConfidenceInterval(estimate, Quantile(sorted, qLo), Quantile(sorted, qHi), level);

        static double Adjust(double z0, double a, double z)
        {
            double s = z0 + z;
            double denom = 1 - a * s;
            if (denom <= 0) return z > 0 ? 1 : 0;
            return Normal.Cdf(z0 + s / denom);
        }
    }

    /// <summary>Linear-interpolated quantile (R type 7) of sorted data.</summary>
    internal static float Quantile(float[] sorted, double q)
    {
        q = Math.Clamp(q, 0, 1);
        double h = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return (float)(sorted[lo] + (h - lo) * (sorted[hi] - (double)sorted[lo]));
    }
}
