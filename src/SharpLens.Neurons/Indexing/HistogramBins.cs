using System.Runtime.Intrinsics;

namespace SharpLens.Neurons.Indexing;

/// <summary>
/// The fixed activation histogram every neuron shares, so histograms of shards add up exactly: 128 bins, 64 per sign,
/// four per octave of |activation| from 2^-8 to 2^8 (edges 1, 1.25, 1.5, 1.75 times a power of two), plus one bin each
/// for |a| below 2^-8·1.25 and at or above 2^8·1.75. A bin is read straight off the float's bits (exponent and the top two
/// mantissa bits), which keeps binning to a few integer operations per activation.
/// </summary>
public static class HistogramBins
{
    /// <summary>Number of bins.</summary>
    public const int Count = 128;
    private const int PerSign = Count / 2;
    private const int LowestExponent = -8;
    private const int Offset = (127 + LowestExponent) << 2;

    /// <summary>The bin of <paramref name="value"/>: 0 holds the most negative values, 64 starts at +0.</summary>
    public static int Of(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        int magnitude = Math.Clamp((int)((bits >> 21) & 0x3FF) - Offset, 0, PerSign - 1);
        return (bits >> 31) != 0 ? PerSign - 1 - magnitude : PerSign + magnitude;
    }

    /// <summary><see cref="Of(float)"/> for eight values at once.</summary>
    public static Vector256<int> Of(Vector256<float> values)
    {
        var bits = values.AsUInt32();
        var magnitude = Vector256.Min(Vector256.Max((Vector256.ShiftRightLogical(bits, 21) & Vector256.Create(0x3FFu)).AsInt32() - Vector256.Create(Offset),
            Vector256<int>.Zero), Vector256.Create(PerSign - 1));
        var negative = Vector256.ShiftRightArithmetic(bits.AsInt32(), 31);          // all ones for negative values
        // positive: 64 + m; negative: 63 - m = 64 + m - (2m + 1)
        return Vector256.Create(PerSign) + magnitude - (negative & (magnitude + magnitude + Vector256<int>.One));
    }

    /// <summary><see cref="Of(float)"/> for sixteen values at once.</summary>
    public static Vector512<int> Of(Vector512<float> values)
    {
        var bits = values.AsUInt32();
        var magnitude = Vector512.Min(Vector512.Max((Vector512.ShiftRightLogical(bits, 21) & Vector512.Create(0x3FFu)).AsInt32() - Vector512.Create(Offset),
            Vector512<int>.Zero), Vector512.Create(PerSign - 1));
        var negative = Vector512.ShiftRightArithmetic(bits.AsInt32(), 31);          // all ones for negative values
        // positive: 64 + m; negative: 63 - m = 64 + m - (2m + 1)
        return Vector512.Create(PerSign) + magnitude - (negative & (magnitude + magnitude + Vector512<int>.One));
    }

    /// <summary>[129] bin edges: bin i holds values in [Edges[i], Edges[i+1]) (for negative bins (Edges[i], Edges[i+1]]); the ends are ±infinity.</summary>
    public static readonly double[] Edges = BuildEdges();

    private static double[] BuildEdges()
    {
        // Lower edge of positive magnitude m (m >= 1): 2^(LowestExponent + m/4) · (1 + (m%4)/4).
        var positive = new double[PerSign + 1];
        positive[0] = 0;
        for (int m = 1; m < PerSign; m++) positive[m] = Math.Pow(2, LowestExponent + m / 4) * (1 + (m % 4) / 4.0);
        positive[PerSign] = double.PositiveInfinity;
        var edges = new double[Count + 1];
        for (int i = 0; i <= PerSign; i++)
        {
            edges[PerSign + i] = positive[i];
            edges[PerSign - i] = -positive[i];
        }
        return edges;
    }

    /// <summary>The quantile <paramref name="q"/> of a histogram, interpolated linearly inside its bin and clamped to the
    /// observed [<paramref name="min"/>, <paramref name="max"/>] (an estimate at bin resolution, not an exact order statistic).</summary>
    /// <param name="counts">[128] bin counts.</param>
    /// <param name="q">The quantile wanted, in [0, 1].</param>
    /// <param name="min">The smallest activation observed.</param>
    /// <param name="max">The largest activation observed.</param>
    public static double Quantile(ReadOnlySpan<long> counts, double q, double min, double max)
    {
        long total = 0;
        foreach (var c in counts) total += c;
        if (total == 0) return double.NaN;
        double target = q * total, seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0) continue;
            if (seen + counts[i] >= target)
            {
                double lo = Math.Max(Edges[i], min), hi = Math.Min(Edges[i + 1], max);
                double f = counts[i] == 0 ? 0 : (target - seen) / counts[i];
                return Math.Clamp(lo + (hi - lo) * f, min, max);
            }
            seen += counts[i];
        }
        return max;
    }
}
