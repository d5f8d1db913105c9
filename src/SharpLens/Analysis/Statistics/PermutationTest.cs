namespace SharpLens.Analysis.Statistics;

/// <summary>Which direction counts as extreme. <see cref="Greater"/> tests mean(a) &gt; mean(b).</summary>
public enum Alternative
{
    /// <summary>|mean(a) - mean(b)| is large in either direction.</summary>
    TwoSided,
    /// <summary>mean(a) &gt; mean(b).</summary>
    Greater,
    /// <summary>mean(a) &lt; mean(b).</summary>
    Less,
}

/// <summary>Result of a permutation test.</summary>
/// <param name="MeanDifference">Observed mean(a - b) (paired) or mean(a) - mean(b) (two-sample).</param>
/// <param name="PValue">Exact p = extreme/total when <paramref name="Exact"/>, else (extreme + 1)/(permutations + 1).</param>
/// <param name="Permutations">Relabellings evaluated (2^n for exact paired, C(n, nA) for exact two-sample).</param>
/// <param name="Exact">True when every relabelling was enumerated.</param>
/// <param name="Alternative">The direction tested.</param>
/// <param name="CountA">Values in group A (pairs, for a paired test).</param>
/// <param name="CountB">Values in group B.</param>
public sealed record TestResult(double MeanDifference, double PValue, int Permutations, bool Exact, Alternative Alternative, int CountA, int CountB);

/// <summary>
/// Permutation tests for a difference in means.
/// </summary>
/// <remarks>
/// Use <see cref="Paired"/> when a[i] and b[i] come from the same prompt (or matched prompt pairs), e.g. the
/// same prompts measured under two conditions, two components on the same prompts, or clean vs patched. It
/// tests whether the per-prompt differences are symmetric about zero by flipping their signs, which removes
/// prompt-to-prompt variation and is much more powerful. Use <see cref="TwoSample"/> when the groups are
/// different prompts (e.g. "is head 9.6 more important for prompt group A than for group B?" with unrelated
/// prompts): it shuffles group labels and needs no correspondence; the groups may differ in size.
/// </remarks>
public static class PermutationTest
{
    /// <summary>Largest n for which the paired test enumerates all 2^n sign flips.</summary>
    public const int ExactPairedLimit = 16;

    /// <summary>
    /// Paired sign-flip test on d = a - b. Exact (all 2^n flips, p = count/2^n) when n &lt;= 16; otherwise Monte
    /// Carlo with <paramref name="permutations"/> random flips from <c>new Random(seed)</c>, p = (count + 1)/(permutations + 1).
    /// </summary>
    public static TestResult Paired(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int permutations = 10000, int seed = 0,
        Alternative alternative = Alternative.TwoSided)
    {
        if (a.Length != b.Length)
            throw new InvalidInputException($"a paired test needs one b value per a value, got {a.Length} and {b.Length}; use PermutationTest.TwoSample for unpaired groups");
        if (a.Length == 0) throw new InvalidInputException("a paired test needs at least one pair");
        RequireFinite(a, "a"); RequireFinite(b, "b");
        int n = a.Length;
        var d = new double[n];
        double observed = 0, scale = 0;
        for (int i = 0; i < n; i++) { d[i] = (double)a[i] - b[i]; observed += d[i]; scale += Math.Abs(d[i]); }
        double tol = 1e-9 * Math.Max(scale, 1e-30);
        long count = 0, total;
        bool exact = n <= ExactPairedLimit;
        if (exact)
        {
            // Gray-code walk over all sign vectors: each step flips one sign, so the sum updates in O(1).
            total = 1L << n;
            double sum = observed; // start: all signs +
            var sign = new int[n]; Array.Fill(sign, 1);
            if (Extreme(sum, observed, alternative, tol)) count++;
            for (long k = 1; k < total; k++)
            {
                int j = System.Numerics.BitOperations.TrailingZeroCount(k);
                sum -= 2 * sign[j] * d[j];
                sign[j] = -sign[j];
                if (Extreme(sum, observed, alternative, tol)) count++;
            }
        }
        else
        {
            if (permutations < 1) throw new InvalidInputException($"permutations must be at least 1, got {permutations}");
            total = permutations;
            var rng = new Random(seed);
            var bits = new byte[(n + 7) / 8];
            for (int p = 0; p < permutations; p++)
            {
                rng.NextBytes(bits);
                double sum = 0;
                for (int i = 0; i < n; i++) sum += (bits[i >> 3] >> (i & 7) & 1) == 0 ? d[i] : -d[i];
                if (Extreme(sum, observed, alternative, tol)) count++;
            }
        }
        double pValue = exact ? (double)count / total : (count + 1.0) / (total + 1.0);
        return new TestResult(observed / n, Math.Min(1, pValue), (int)Math.Min(total, int.MaxValue), exact, alternative, n, n);
    }

    /// <summary>
    /// Two-sample (unpaired) label-shuffling test of mean(a) - mean(b). Exact enumeration of all C(nA + nB, nA)
    /// splits when that count is at most <paramref name="permutations"/>; otherwise Monte Carlo with
    /// <paramref name="permutations"/> random shuffles, p = (count + 1)/(permutations + 1).
    /// </summary>
    public static TestResult TwoSample(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int permutations = 10000, int seed = 0,
        Alternative alternative = Alternative.TwoSided)
    {
        if (a.Length == 0 || b.Length == 0)
            throw new InvalidInputException($"a two-sample test needs at least one value in each group, got {a.Length} and {b.Length}");
        if (permutations < 1) throw new InvalidInputException($"permutations must be at least 1, got {permutations}");
        RequireFinite(a, "a"); RequireFinite(b, "b");
        int na = a.Length, nb = b.Length, n = na + nb;
        var pooled = new double[n];
        double total = 0, scale = 0;
        for (int i = 0; i < na; i++) pooled[i] = a[i];
        for (int i = 0; i < nb; i++) pooled[na + i] = b[i];
        foreach (double v in pooled) { total += v; scale += Math.Abs(v); }
        double Stat(double sumA) => sumA / na - (total - sumA) / nb;
        double sumObs = 0;
        for (int i = 0; i < na; i++) sumObs += pooled[i];
        double observed = Stat(sumObs);
        double tol = 1e-9 * Math.Max(scale, 1e-30);
        long count = 0, evaluated;
        double combos = Combinations(n, na);
        bool exact = combos <= permutations;
        if (exact)
        {
            evaluated = (long)Math.Round(combos);
            var idx = new int[na];
            for (int i = 0; i < na; i++) idx[i] = i;
            while (true)
            {
                double s = 0;
                foreach (int i in idx) s += pooled[i];
                if (Extreme(Stat(s), observed, alternative, tol)) count++;
                int k = na - 1;
                while (k >= 0 && idx[k] == n - na + k) k--;
                if (k < 0) break;
                idx[k]++;
                for (int j = k + 1; j < na; j++) idx[j] = idx[j - 1] + 1;
            }
        }
        else
        {
            evaluated = permutations;
            var rng = new Random(seed);
            var work = (double[])pooled.Clone();
            int take = Math.Min(na, nb);
            for (int p = 0; p < permutations; p++)
            {
                // Partial Fisher-Yates: the first `take` slots are a uniform random subset.
                double s = 0;
                for (int i = 0; i < take; i++)
                {
                    int j = i + rng.Next(n - i);
                    (work[i], work[j]) = (work[j], work[i]);
                    s += work[i];
                }
                double sumA = take == na ? s : total - s;
                if (Extreme(Stat(sumA), observed, alternative, tol)) count++;
            }
        }
        double pValue = exact ? (double)count / evaluated : (count + 1.0) / (evaluated + 1.0);
        return new TestResult(observed, Math.Min(1, pValue), (int)evaluated, exact, alternative, na, nb);
    }

    private static bool Extreme(double stat, double observed, Alternative alternative, double tol) => alternative switch
    {
        Alternative.Greater => stat >= observed - tol,
        Alternative.Less => stat <= observed + tol,
        _ => Math.Abs(stat) >= Math.Abs(observed) - tol,
    };

    private static double Combinations(int n, int k)
    {
        k = Math.Min(k, n - k);
        double c = 1;
        for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
        return Math.Round(c);
    }

    private static void RequireFinite(ReadOnlySpan<float> values, string what)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) throw new InvalidInputException($"{what} contains a non-finite value ({v}); drop or fix such prompts before testing");
    }
}
