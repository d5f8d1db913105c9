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
            int width = n1 - n0;
            var max = new float[width]; var min = new float[width];
            var arg = new int[width]; var positive = new int[width];
            var sum = new double[width]; var squares = new double[width];
            for (int b = 0; b < batch; b++)
            {
                Array.Fill(max, float.NegativeInfinity); Array.Fill(min, float.PositiveInfinity);
                Array.Clear(arg); Array.Clear(positive); Array.Clear(sum); Array.Clear(squares);
                for (int p = 1; p < pos; p++)
                    AddRow(post.AsSpan((b * pos + p) * Neurons + n0, width), p, n0, max, min, arg, positive, sum, squares);
                var window = windows[b];
                for (int i = 0; i < width; i++)
                {
                    int n = n0 + i;
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
        });
    }

    // Each neuron is one lane with its own accumulators, updated with the same operations in the vector and the
    // scalar path (no fused multiply-add), so results do not depend on which path or thread handled a neuron.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddRow(ReadOnlySpan<float> row, int p, int n0, float[] max, float[] min, int[] arg, int[] positive, double[] sum, double[] squares)
    {
        var histogram = Histogram;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var position = Vector256.Create(p);
            Span<int> bins = stackalloc int[8];
            ref float r = ref MemoryMarshal.GetReference(row);
            for (; i <= row.Length - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                var oldMax = Vector256.Create<float>(max.AsSpan(i, 8));
                var above = Vector256.GreaterThan(v, oldMax);
                Vector256.ConditionalSelect(above, v, oldMax).CopyTo(max.AsSpan(i, 8));
                Vector256.ConditionalSelect(above.AsInt32(), position, Vector256.Create<int>(arg.AsSpan(i, 8))).CopyTo(arg.AsSpan(i, 8));
                var oldMin = Vector256.Create<float>(min.AsSpan(i, 8));
                Vector256.ConditionalSelect(Vector256.LessThan(v, oldMin), v, oldMin).CopyTo(min.AsSpan(i, 8));
                (Vector256.Create<int>(positive.AsSpan(i, 8)) - Vector256.GreaterThan(v, Vector256<float>.Zero).AsInt32()).CopyTo(positive.AsSpan(i, 8));
                var (lo, hi) = Vector256.Widen(v);
                (Vector256.Create<double>(sum.AsSpan(i, 4)) + lo).CopyTo(sum.AsSpan(i, 4));
                (Vector256.Create<double>(sum.AsSpan(i + 4, 4)) + hi).CopyTo(sum.AsSpan(i + 4, 4));
                (Vector256.Create<double>(squares.AsSpan(i, 4)) + lo * lo).CopyTo(squares.AsSpan(i, 4));
                (Vector256.Create<double>(squares.AsSpan(i + 4, 4)) + hi * hi).CopyTo(squares.AsSpan(i + 4, 4));
                HistogramBins.Of(v).CopyTo(bins);
                int baseIndex = (n0 + i) * HistogramBins.Count;
                for (int j = 0; j < 8; j++) histogram[baseIndex + j * HistogramBins.Count + bins[j]]++;
            }
        }
        for (; i < row.Length; i++)
        {
            float v = row[i];
            double d = v;
            sum[i] += d;
            squares[i] += d * d;
            if (v > 0) positive[i]++;
            if (v > max[i]) { max[i] = v; arg[i] = p; }
            if (v < min[i]) min[i] = v;
            histogram[(n0 + i) * HistogramBins.Count + HistogramBins.Of(v)]++;
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
