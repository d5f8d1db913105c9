using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

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
        Histogram = new long[neurons * HistogramStride];
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
    /// <summary>[neuron · <see cref="HistogramStride"/>] counts per <see cref="HistogramBins"/> bin (the first 128 of each
    /// neuron's slots; the rest stay 0).</summary>
    public readonly long[] Histogram;

    /// <summary>Slots per neuron in <see cref="Histogram"/>: 128 bins plus padding. With exactly 128 (1 KiB) the counters
    /// that four lanes of one vector bump share their address bits below 4 KiB whenever the neurons land in the same
    /// bin, and the processor then stalls each load behind the other lanes' stores (4K aliasing).</summary>
    public const int HistogramStride = HistogramBins.Count + 8;

    /// <summary>Neuron <paramref name="n"/>'s 128 bin counts.</summary>
    public ArraySegment<long> HistogramOf(int n) => new(Histogram, n * HistogramStride, HistogramBins.Count);
    public readonly TopExampleHeaps Top;

    /// <summary>Neurons folded together: their histograms (64 · 136 slots · 8 bytes = 68 KiB) and running values stay in
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
            var admitted = new int[Tile];
            var row = new Half[Tile];
            var entered = new Half[Tile][];
            for (int t0 = n0; t0 < n1; t0 += Tile)
            {
                int width = Math.Min(Tile, n1 - t0);
                for (int b = 0; b < batch; b++)
                {
                    PrefetchTile(post, b * pos * Neurons, pos, Neurons, t0, width);
                    AddWindow(post, b * pos * Neurons, pos, t0, width, max, min, arg, positive, sum, squares, VectorWidthSelector.Best);
                    var window = windows[b];
                    int entering = 0;
                    for (int i = 0; i < width; i++)
                    {
                        int n = t0 + i;
                        Sum[n] += ToFixed(sum[i]);
                        SumSquares[n] += ToFixed(squares[i]);
                        Positive[n] += positive[i];
                        if (min[i] < Min[n]) Min[n] = min[i];
                        if (max[i] > Max[n]) Max[n] = max[i];
                        if (arg[i] > 0 && Top.Admits(n, max[i], window.Id)) admitted[entering++] = i;
                    }
                    if (entering == 0) continue;
                    // The entering neurons' activations at every position of the window, for shading its text: read row
                    // by row (a neuron's own column is a page per position apart), converted a row at a time.
                    for (int e = 0; e < entering; e++)
                    {
                        int i = admitted[e];
                        entered[e] = Top.Add(t0 + i, max[i], window.Id, arg[i], window.Tokens[arg[i]], pos);
                    }
                    for (int p = 0; p < pos; p++)
                    {
                        TensorPrimitives.ConvertToHalf(post.AsSpan((b * pos + p) * Neurons + t0, width), row);
                        for (int e = 0; e < entering; e++) entered[e][p] = row[admitted[e]];
                    }
                    used[b] = true;
                }
            }
        });
    }

    /// <summary>value·2^32 truncated toward zero, as <c>(Int128)(value·2^32)</c>; through a 64-bit integer when it fits
    /// (the general double-to-Int128 conversion is a slow software routine, run twice per neuron and window).</summary>
    internal static Int128 ToFixed(double value)
    {
        double scaled = value * FixedScale;
        return Math.Abs(scaled) < 9.2e18 ? (Int128)(long)scaled : (Int128)scaled;
    }

    // Each neuron is one lane with its own accumulators, updated with the same operations in the vector and the
    // scalar paths (no fused multiply-add), so results do not depend on which path or thread handled a neuron. Sixteen
    // (or eight) neurons at a time run down all positions of the window with their running values in registers; every
    // lane is a different neuron, so the histogram counts of one vector never collide and are bumped straight from the
    // bin indices the vector computed (no bounds checks: a bin is 0..127 by construction).
    /// <summary>One window's max (and its position), min, positive count, Σa and Σa² for neurons t0..t0+width-1 (BOS left
    /// out), written to the first <paramref name="width"/> entries of the arrays; counts go straight into the histogram.</summary>
    internal void AddWindow(float[] post, int windowStart, int pos, int t0, int width,
        float[] max, float[] min, int[] arg, int[] positive, double[] sum, double[] squares, VectorWidth vectors)
    {
        int i = 0;
        if (vectors >= VectorWidth.Vector512)
            for (; i <= width - 16; i += 16) AddLanes512(post, windowStart, pos, t0, i, max, min, arg, positive, sum, squares);
        if (vectors >= VectorWidth.Vector256)
            for (; i <= width - 8; i += 8) AddLanes256(post, windowStart, pos, t0, i, max, min, arg, positive, sum, squares);
        for (; i < width; i++)
        {
            float vMax = float.NegativeInfinity, vMin = float.PositiveInfinity;
            int vArg = 0, vPositive = 0;
            double s = 0, sq = 0;
            int histogramBase = (t0 + i) * HistogramStride;
            for (int p = 1; p < pos; p++)
            {
                float v = post[windowStart + p * Neurons + t0 + i];
                double d = v;
                s += d;
                sq += d * d;
                if (v > 0) vPositive++;
                if (v > vMax) { vMax = v; vArg = p; }
                if (v < vMin) vMin = v;
                Histogram[histogramBase + HistogramBins.Of(v)]++;
            }
            max[i] = vMax; min[i] = vMin; arg[i] = vArg; positive[i] = vPositive; sum[i] = s; squares[i] = sq;
        }
    }

    // Consecutive positions of a neuron are a row (d_mlp floats, 12 KB for GPT-2 small) apart, so every load of the
    // lanes' loop is on a new page, where the hardware prefetchers stop, and waits for memory (60% of the statistics'
    // time). Asking for all of the window's rows of the tile first lets those misses overlap (measured: half the time
    // of the statistics; prefetching one window ahead instead was no better); the lanes then read L2.
    private static unsafe void PrefetchTile(float[] post, int windowStart, int pos, int stride, int t0, int width)
    {
        if (!Sse.IsSupported) return;
        fixed (float* source = post)
            for (int p = 1; p < pos; p++)
            {
                float* row = source + windowStart + (long)p * stride + t0;
                for (int f = 0; f < width; f += 16) Sse.Prefetch1(row + f);
                Sse.Prefetch1(row + width - 1);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddLanes512(float[] post, int windowStart, int pos, int t0, int i,
        float[] max, float[] min, int[] arg, int[] positive, double[] sum, double[] squares)
    {
        if ((uint)(windowStart + (pos - 1) * Neurons + t0 + i + 16) > (uint)post.Length || t0 + i + 16 > Neurons)
            throw new ArgumentOutOfRangeException(nameof(i), "the lanes run past the activations");
        ref float source = ref MemoryMarshal.GetArrayDataReference(post);
        ref long histogram = ref MemoryMarshal.GetArrayDataReference(Histogram);
        Span<int> slots = stackalloc int[16];
        ref int slot = ref MemoryMarshal.GetReference(slots);
        var vMax = Vector512.Create(float.NegativeInfinity);
        var vMin = Vector512.Create(float.PositiveInfinity);
        Vector512<int> vArg = Vector512<int>.Zero, vPositive = Vector512<int>.Zero;
        Vector512<double> sumLo = Vector512<double>.Zero, sumHi = Vector512<double>.Zero, sqLo = Vector512<double>.Zero, sqHi = Vector512<double>.Zero;
        // Lane j counts into neuron (t0 + i + j)'s 128 bins.
        var laneBase = Vector512<int>.Indices * HistogramStride + Vector512.Create((t0 + i) * HistogramStride);
        for (int p = 1; p < pos; p++)
        {
            var v = Vector512.LoadUnsafe(ref source, (nuint)(windowStart + p * Neurons + t0 + i));
            var above = Vector512.GreaterThan(v, vMax);
            vMax = Vector512.ConditionalSelect(above, v, vMax);
            vArg = Vector512.ConditionalSelect(above.AsInt32(), Vector512.Create(p), vArg);
            vMin = Vector512.ConditionalSelect(Vector512.LessThan(v, vMin), v, vMin);
            vPositive -= Vector512.GreaterThan(v, Vector512<float>.Zero).AsInt32();
            var (lo, hi) = Vector512.Widen(v);
            sumLo += lo; sumHi += hi;
            sqLo += lo * lo; sqHi += hi * hi;
            (HistogramBins.Of(v) + laneBase).StoreUnsafe(ref slot);
            for (int j = 0; j < 16; j++) Unsafe.Add(ref histogram, Unsafe.Add(ref slot, j))++;
        }
        vMax.CopyTo(max.AsSpan(i, 16)); vMin.CopyTo(min.AsSpan(i, 16));
        vArg.CopyTo(arg.AsSpan(i, 16)); vPositive.CopyTo(positive.AsSpan(i, 16));
        sumLo.CopyTo(sum.AsSpan(i, 8)); sumHi.CopyTo(sum.AsSpan(i + 8, 8));
        sqLo.CopyTo(squares.AsSpan(i, 8)); sqHi.CopyTo(squares.AsSpan(i + 8, 8));
    }

    /// <summary><see cref="AddLanes512"/> with eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddLanes256(float[] post, int windowStart, int pos, int t0, int i,
        float[] max, float[] min, int[] arg, int[] positive, double[] sum, double[] squares)
    {
        if ((uint)(windowStart + (pos - 1) * Neurons + t0 + i + 8) > (uint)post.Length || t0 + i + 8 > Neurons)
            throw new ArgumentOutOfRangeException(nameof(i), "the lanes run past the activations");
        ref float source = ref MemoryMarshal.GetArrayDataReference(post);
        ref long histogram = ref MemoryMarshal.GetArrayDataReference(Histogram);
        Span<int> slots = stackalloc int[8];
        ref int slot = ref MemoryMarshal.GetReference(slots);
        var vMax = Vector256.Create(float.NegativeInfinity);
        var vMin = Vector256.Create(float.PositiveInfinity);
        Vector256<int> vArg = Vector256<int>.Zero, vPositive = Vector256<int>.Zero;
        Vector256<double> sumLo = Vector256<double>.Zero, sumHi = Vector256<double>.Zero, sqLo = Vector256<double>.Zero, sqHi = Vector256<double>.Zero;
        var laneBase = Vector256<int>.Indices * HistogramStride + Vector256.Create((t0 + i) * HistogramStride);
        for (int p = 1; p < pos; p++)
        {
            var v = Vector256.LoadUnsafe(ref source, (nuint)(windowStart + p * Neurons + t0 + i));
            var above = Vector256.GreaterThan(v, vMax);
            vMax = Vector256.ConditionalSelect(above, v, vMax);
            vArg = Vector256.ConditionalSelect(above.AsInt32(), Vector256.Create(p), vArg);
            vMin = Vector256.ConditionalSelect(Vector256.LessThan(v, vMin), v, vMin);
            vPositive -= Vector256.GreaterThan(v, Vector256<float>.Zero).AsInt32();
            var (lo, hi) = Vector256.Widen(v);
            sumLo += lo; sumHi += hi;
            sqLo += lo * lo; sqHi += hi * hi;
            (HistogramBins.Of(v) + laneBase).StoreUnsafe(ref slot);
            for (int j = 0; j < 8; j++) Unsafe.Add(ref histogram, Unsafe.Add(ref slot, j))++;
        }
        vMax.CopyTo(max.AsSpan(i, 8)); vMin.CopyTo(min.AsSpan(i, 8));
        vArg.CopyTo(arg.AsSpan(i, 8)); vPositive.CopyTo(positive.AsSpan(i, 8));
        sumLo.CopyTo(sum.AsSpan(i, 4)); sumHi.CopyTo(sum.AsSpan(i + 4, 4));
        sqLo.CopyTo(squares.AsSpan(i, 4)); sqHi.CopyTo(squares.AsSpan(i + 4, 4));
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
                    Top.Add(n, other.Top.Activation[s], other.Top.Window[s], other.Top.Position[s], other.Top.Token[s], (ReadOnlySpan<Half>)other.Top.Values[s]);
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
