using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SharpLens.Tensors;

namespace SharpLens.Neurons.Indexing;

/// <summary>
/// Everything the index keeps about one layer's neurons, updated in place as windows stream through: the top-k windows
/// per neuron (by the window's max activation) and statistics that merge exactly. Sums are accumulated per window in
/// double (positions in order) and then added as 2^-32 fixed-point integers, so the totals do not depend on the order
/// windows are processed in: shards, resumed runs and merges give bit-identical numbers. The BOS position of every
/// window is left out (it is the same token in every window and would dominate the statistics).
/// </summary>
internal sealed class LayerAccumulator
{
    private const double FixedScale = 4294967296.0; // 2^32

    public LayerAccumulator(int layer, int neurons, int k)
    {
        Layer = layer; Neurons = neurons;
        Sum = new Int128[neurons]; SumSquares = new Int128[neurons];
        Positive = new long[neurons];
        Min = new float[neurons]; Max = new float[neurons];
        Array.Fill(Min, float.PositiveInfinity); Array.Fill(Max, float.NegativeInfinity);
        Histogram = new long[neurons * HistogramBins.Count];
        Top = new TopExampleHeaps(neurons, k);
    }

    public int Layer { get; }
    public int Neurons { get; }
    /// <summary>Activations counted per neuron (every non-BOS position of every window).</summary>
    public long Count;
    /// <summary>[neuron] Σa and Σa² in 2^-32 fixed point.</summary>
    public readonly Int128[] Sum, SumSquares;
    public readonly long[] Positive;
    public readonly float[] Min, Max;
    /// <summary>[neuron · 128] counts per <see cref="HistogramBins"/> bin.</summary>
    public readonly long[] Histogram;
    public readonly TopExampleHeaps Top;

    /// <summary>Neurons folded together: their histograms (64 · 128 counts · 8 bytes = 64 KiB) and running values stay in
    /// the core's cache over all positions of a window, where a whole thread's share of the layer (megabytes of histogram)
    /// would miss the cache on nearly every count.</summary>
    private const int Tile = 64;

    /// <summary>Folds one batch of windows of equal length into the layer.</summary>
    /// <param name="post">blocks.L.mlp.hook_post [batch, pos, d_mlp]</param>
    /// <param name="pos">Length of every window in the batch (the pos axis of <paramref name="post"/>).</param>
    /// <param name="windows">[batch] the windows, each of length pos.</param>
    /// <param name="used">[batch] set to true for windows that entered some neuron's top k.</param>
    public void Add(float[] post, int pos, IReadOnlyList<TokenWindow> windows, bool[] used)
    {
        int batch = windows.Count;
        Count += (long)batch * (pos - 1);
        ParallelRows.For(Neurons, (long)batch * pos * Neurons * 4, (n0, n1) =>
        {
            var max = new float[Tile]; var min = new float[Tile];
            var arg = new int[Tile]; var positive = new int[Tile];
            var sum = new double[Tile]; var squares = new double[Tile];
            for (int t0 = n0; t0 < n1; t0 += Tile)
            {
                int width = Math.Min(Tile, n1 - t0);
                for (int b = 0; b < batch; b++)
                {
                    AddWindow(post, b * pos * Neurons, pos, t0, width, max, min, arg, positive, sum, squares);
                    var window = windows[b];
                    for (int i = 0; i < width; i++)
                    {
                        int n = t0 + i;
                        Sum[n] += (Int128)(sum[i] * FixedScale);
                        SumSquares[n] += (Int128)(squares[i] * FixedScale);
                        Positive[n] += positive[i];
                        if (min[i] < Min[n]) Min[n] = min[i];
                        if (max[i] > Max[n]) Max[n] = max[i];
                        if (arg[i] > 0 && Top.Admits(n, max[i], window.Id))
                        {
                            var values = new Half[pos];
                            for (int p = 0; p < pos; p++) values[p] = (Half)post[(b * pos + p) * Neurons + n];
                            Top.Add(n, max[i], window.Id, arg[i], window.Tokens[arg[i]], values);
                            used[b] = true;
                        }
                    }
                }
            }
        });
    }

    // Each neuron is one lane with its own accumulators, updated with the same operations in the vector and the
    // scalar path (no fused multiply-add), so results do not depend on which path or thread handled a neuron. Eight
    // neurons at a time run down all positions of the window with their running values in registers.
    /// <summary>One window's max (and its position), min, positive count, Σa and Σa² for neurons t0..t0+width-1 (BOS left
    /// out), written to the first <paramref name="width"/> entries of the arrays; counts go straight into the histogram.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddWindow(float[] post, int windowStart, int pos, int t0, int width,
        float[] max, float[] min, int[] arg, int[] positive, double[] sum, double[] squares)
    {
        var histogram = Histogram;
        int stride = Neurons, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Span<int> bins = stackalloc int[8];
            ref float source = ref MemoryMarshal.GetArrayDataReference(post);
            for (; i <= width - 8; i += 8)
            {
                var vMax = Vector256.Create(float.NegativeInfinity);
                var vMin = Vector256.Create(float.PositiveInfinity);
                Vector256<int> vArg = Vector256<int>.Zero, vPositive = Vector256<int>.Zero;
                Vector256<double> sumLo = Vector256<double>.Zero, sumHi = Vector256<double>.Zero, sqLo = Vector256<double>.Zero, sqHi = Vector256<double>.Zero;
                int histogramBase = (t0 + i) * HistogramBins.Count;
                for (int p = 1; p < pos; p++)
                {
                    var v = Vector256.LoadUnsafe(ref source, (nuint)(windowStart + p * stride + t0 + i));
                    var above = Vector256.GreaterThan(v, vMax);
                    vMax = Vector256.ConditionalSelect(above, v, vMax);
                    vArg = Vector256.ConditionalSelect(above.AsInt32(), Vector256.Create(p), vArg);
                    vMin = Vector256.ConditionalSelect(Vector256.LessThan(v, vMin), v, vMin);
                    vPositive -= Vector256.GreaterThan(v, Vector256<float>.Zero).AsInt32();
                    var (lo, hi) = Vector256.Widen(v);
                    sumLo += lo; sumHi += hi;
                    sqLo += lo * lo; sqHi += hi * hi;
                    HistogramBins.Of(v).CopyTo(bins);
                    for (int j = 0; j < 8; j++) histogram[histogramBase + j * HistogramBins.Count + bins[j]]++;
                }
                vMax.CopyTo(max.AsSpan(i, 8)); vMin.CopyTo(min.AsSpan(i, 8));
                vArg.CopyTo(arg.AsSpan(i, 8)); vPositive.CopyTo(positive.AsSpan(i, 8));
                sumLo.CopyTo(sum.AsSpan(i, 4)); sumHi.CopyTo(sum.AsSpan(i + 4, 4));
                sqLo.CopyTo(squares.AsSpan(i, 4)); sqHi.CopyTo(squares.AsSpan(i + 4, 4));
            }
        }
        for (; i < width; i++)
        {
            float vMax = float.NegativeInfinity, vMin = float.PositiveInfinity;
            int vArg = 0, vPositive = 0;
            double s = 0, sq = 0;
            int histogramBase = (t0 + i) * HistogramBins.Count;
            for (int p = 1; p < pos; p++)
            {
                float v = post[windowStart + p * stride + t0 + i];
                double d = v;
                s += d;
                sq += d * d;
                if (v > 0) vPositive++;
                if (v > vMax) { vMax = v; vArg = p; }
                if (v < vMin) vMin = v;
                histogram[histogramBase + HistogramBins.Of(v)]++;
            }
            max[i] = vMax; min[i] = vMin; arg[i] = vArg; positive[i] = vPositive; sum[i] = s; squares[i] = sq;
        }
    }

    /// <summary>Adds another accumulator of the same layer (a shard) into this one; the result equals one run over both.</summary>
    public void Merge(LayerAccumulator other)
    {
        Count += other.Count;
        for (int n = 0; n < Neurons; n++)
        {
            Sum[n] += other.Sum[n]; SumSquares[n] += other.SumSquares[n];
            Positive[n] += other.Positive[n];
            Min[n] = Math.Min(Min[n], other.Min[n]); Max[n] = Math.Max(Max[n], other.Max[n]);
            for (int k = other.Top.Filled[n] - 1; k >= 0; k--)
            {
                int s = n * other.Top.K + k;
                if (Top.Admits(n, other.Top.Activation[s], other.Top.Window[s]))
                    Top.Add(n, other.Top.Activation[s], other.Top.Window[s], other.Top.Position[s], other.Top.Token[s], other.Top.Values[s]);
            }
        }
        for (int i = 0; i < Histogram.Length; i++) Histogram[i] += other.Histogram[i];
    }

    /// <summary>Mean of neuron <paramref name="n"/>'s activations.</summary>
    public double Mean(int n) => Count == 0 ? double.NaN : (double)Sum[n] / FixedScale / Count;

    /// <summary>Population standard deviation of neuron <paramref name="n"/>'s activations.</summary>
    public double Std(int n)
    {
        if (Count == 0) return double.NaN;
        double mean = Mean(n), meanSquares = (double)SumSquares[n] / FixedScale / Count;
        return Math.Sqrt(Math.Max(0, meanSquares - mean * mean));
    }
}
