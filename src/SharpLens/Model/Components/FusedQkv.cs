using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>Which part of a fused Q/K/V row: the queries, keys or values.</summary>
internal enum QkvPart { Q = 0, K = 1, V = 2 }

/// <summary>
/// W_Q, W_K and W_V of one block fused into one [d_model, (n_heads + 2·n_key_value_heads)·d_head] matrix, so q, k and
/// v take one GEMM. A fused row is q | k | v: q [n_heads, d_head], then k and v [n_key_value_heads, d_head] each
/// (head-major, the layout of hook_q/k/v). This type is the only place that packs the fused layout and splits it
/// again: the forward (<see cref="Attention"/>), the single-neuron patching shortcut and the backward pass (its
/// transposed copy) all go through it.
/// </summary>
internal sealed class FusedQkv
{
    private readonly BlockWeights _w;
    private readonly PackedMatrix _packed;
    private readonly float[] _bias;
    private PackedMatrix? _q, _kv;
    private float[]? _fused; // the fused weights Repack packs from, kept between training steps

    /// <param name="w">the block's weights: W_Q [n_heads, d_model, d_head], W_K, W_V [n_key_value_heads, d_model, d_head]
    /// and their biases</param>
    public FusedQkv(BlockWeights w)
    {
        _w = w;
        NHeads = w.W_Q.Dim(0); DModel = w.W_Q.Dim(1); DHead = w.W_Q.Dim(2); KvHeads = w.W_K.Dim(0);
        _packed = PackedMatrix.Pack(Fuse([w.W_Q, w.W_K, w.W_V]), DModel, Width);
        _bias = [.. w.b_Q.Data, .. w.b_K.Data, .. w.b_V.Data];
    }

    public int NHeads { get; }
    public int KvHeads { get; }
    public int DModel { get; }
    public int DHead { get; }
    /// <summary>n_heads·d_head: the width of the query part.</summary>
    public int QueryWidth => NHeads * DHead;
    /// <summary>n_key_value_heads·d_head: the width of the key part and of the value part.</summary>
    public int KvWidth => KvHeads * DHead;
    /// <summary>(n_heads + 2·n_key_value_heads)·d_head: the width of a fused row.</summary>
    public int Width => QueryWidth + 2 * KvWidth;
    /// <summary>[b_Q | b_K | b_V]: [Width]</summary>
    public ReadOnlySpan<float> Bias => _bias;

    /// <summary>Where <paramref name="part"/> starts in a fused row.</summary>
    public int Offset(QkvPart part) => part switch { QkvPart.Q => 0, QkvPart.K => QueryWidth, _ => QueryWidth + KvWidth };
    /// <summary>The width of <paramref name="part"/> in a fused row.</summary>
    public int PartWidth(QkvPart part) => part == QkvPart.Q ? QueryWidth : KvWidth;
    /// <summary>The heads of <paramref name="part"/>: n_heads for queries, n_key_value_heads for keys and values.</summary>
    public int PartHeads(QkvPart part) => part == QkvPart.Q ? NHeads : KvHeads;

    /// <summary>x·[W_Q | W_K | W_V], plus the bias when <paramref name="addBias"/>.</summary>
    /// <param name="x">[rows, d_model]</param>
    /// <param name="rows">number of rows of <paramref name="x"/></param>
    /// <param name="addBias">add [b_Q | b_K | b_V] to every row</param>
    /// <returns>[rows, Width]</returns>
    public float[] Project(ReadOnlySpan<float> x, int rows, bool addBias = true)
    {
        var qkv = GC.AllocateUninitializedArray<float>(rows * Width);
        Project(x, rows, qkv, addBias);
        return qkv;
    }

    /// <summary><see cref="Project(ReadOnlySpan{float}, int, bool)"/> into <paramref name="destination"/> [rows, Width].</summary>
    internal void Project(ReadOnlySpan<float> x, int rows, float[] destination, bool addBias = true)
    {
        Gemm.Multiply(x, _packed, destination, rows);
        if (addBias) ParallelRows.AddBiasRows(destination, _bias, rows * Width);
    }

    /// <summary>Keys and values of every row, queries of none: x·[W_K | W_V] + [b_K | b_V].</summary>
    /// <param name="x">[rows, d_model]</param>
    /// <param name="rows">number of rows of <paramref name="x"/></param>
    /// <returns>k and v, each [rows, n_key_value_heads·d_head]</returns>
    public (float[] K, float[] V) ProjectKeysValues(ReadOnlySpan<float> x, int rows)
    {
        var (_, wKv) = SplitWeights();
        int kvw = KvWidth;
        var kv = GC.AllocateUninitializedArray<float>(rows * 2 * kvw);
        Gemm.Multiply(x, wKv, kv, rows);
        Kernels.AddBiasRows(kv, _bias.AsSpan(QueryWidth));
        var k = GC.AllocateUninitializedArray<float>(rows * kvw);
        var v = GC.AllocateUninitializedArray<float>(rows * kvw);
        for (int r = 0; r < rows; r++)
        {
            kv.AsSpan(r * 2 * kvw, kvw).CopyTo(k.AsSpan(r * kvw));
            kv.AsSpan(r * 2 * kvw + kvw, kvw).CopyTo(v.AsSpan(r * kvw));
        }
        return (k, v);
    }

    /// <summary>Queries only: x·W_Q + b_Q.</summary>
    /// <param name="x">[rows, d_model]</param>
    /// <param name="rows">number of rows of <paramref name="x"/></param>
    /// <returns>[rows, n_heads·d_head]</returns>
    public float[] ProjectQueries(ReadOnlySpan<float> x, int rows)
    {
        var (wQ, _) = SplitWeights();
        var q = GC.AllocateUninitializedArray<float>(rows * QueryWidth);
        Gemm.Multiply(x, wQ, q, rows);
        Kernels.AddBiasRows(q, _bias.AsSpan(0, QueryWidth));
        return q;
    }

    /// <summary>One part of every fused row, as the hook_q/k/v tensor.</summary>
    /// <param name="qkv">[batch·pos, Width]</param>
    /// <param name="part">which part</param>
    /// <param name="batch">number of sequences</param>
    /// <param name="pos">positions per sequence</param>
    /// <returns>[batch, pos, heads of the part, d_head]</returns>
    public Tensor Split(float[] qkv, QkvPart part, int batch, int pos) =>
        Split(qkv, part, batch, pos, Tensor.Uninitialized(batch, pos, PartHeads(part), DHead));

    /// <summary><see cref="Split(float[], QkvPart, int, int)"/> into <paramref name="t"/> [batch, pos, heads of the part, d_head].</summary>
    internal Tensor Split(float[] qkv, QkvPart part, int batch, int pos, Tensor t)
    {
        int width = PartWidth(part);
        // Memory-bound copies between GEMMs: split over both cores.
        ParallelRows.For(batch * pos, (long)batch * pos * width, (r0, r1) =>
            SplitRows(qkv.AsSpan(r0 * Width), part, r1 - r0, null, t.Data.AsSpan(r0 * width)));
        return t;
    }

    /// <summary>One part of some fused rows, packed densely.</summary>
    /// <param name="qkv">[rows, Width]</param>
    /// <param name="part">which part</param>
    /// <param name="count">number of rows read</param>
    /// <param name="rows">[count] the fused rows to read (null: rows 0..count-1)</param>
    /// <param name="destination">[count, heads of the part·d_head]</param>
    public void SplitRows(ReadOnlySpan<float> qkv, QkvPart part, int count, IReadOnlyList<int>? rows, Span<float> destination)
    {
        int width = PartWidth(part), offset = Offset(part);
        for (int i = 0; i < count; i++)
            qkv.Slice((rows?[i] ?? i) * Width + offset, width).CopyTo(destination.Slice(i * width, width));
    }

    /// <summary>The inverse of <see cref="Split(float[], QkvPart, int, int)"/>: writes <paramref name="part"/> of every
    /// fused row from <paramref name="values"/> [rows, heads of the part·d_head].</summary>
    public void Merge(ReadOnlySpan<float> values, QkvPart part, Span<float> qkv)
    {
        int width = PartWidth(part), offset = Offset(part), rows = values.Length / width;
        for (int r = 0; r < rows; r++) values.Slice(r * width, width).CopyTo(qkv.Slice(r * Width + offset, width));
    }

    /// <summary>[W_Q | W_K | W_V]ᵀ packed for the backward GEMM dLn1 = dQkv·Wᵀ (K = Width, N = d_model).</summary>
    public PackedMatrix PackTransposed() =>
        PackedMatrix.Pack(Fuse([_w.W_Q, _w.W_K, _w.W_V]), Width, DModel, transposed: true);

    /// <summary>
    /// W_Q, W_K, W_V or their biases changed in place (a training step): packs the fused matrix again into its own
    /// storage (and <paramref name="transposed"/>, the backward's copy from <see cref="PackTransposed"/>, when held),
    /// copies the biases, and drops the split copies of the query-rows path (packed again on their next use).
    /// </summary>
    /// <param name="transposed">the held result of <see cref="PackTransposed"/>, or null</param>
    public void Repack(PackedMatrix? transposed)
    {
        _fused ??= new float[DModel * Width];
        Fuse([_w.W_Q, _w.W_K, _w.W_V], _fused);
        _packed.Repack(_fused);
        transposed?.Repack(_fused, transposed: true);
        int q = _w.b_Q.Length, k = _w.b_K.Length;
        _w.b_Q.Data.AsSpan().CopyTo(_bias);
        _w.b_K.Data.AsSpan().CopyTo(_bias.AsSpan(q));
        _w.b_V.Data.AsSpan().CopyTo(_bias.AsSpan(q + k));
        _q = _kv = null;
    }

    /// <summary>W_Q [d_model, n_heads·d_head] and W_K | W_V [d_model, 2·n_key_value_heads·d_head], packed on first use
    /// (the query-rows path projects keys and values of every row but queries of a few).</summary>
    private (PackedMatrix Q, PackedMatrix Kv) SplitWeights()
    {
        if (_q is not null && _kv is not null) return (_q, _kv);
        var kv = PackedMatrix.Pack(Fuse([_w.W_K, _w.W_V]), DModel, 2 * KvWidth);
        _q = PackedMatrix.Pack(Fuse([_w.W_Q]), DModel, QueryWidth);
        _kv = kv;
        return (_q, _kv);
    }

    /// <summary>Per-head weights [heads, d_model, d_head] side by side: [d_model, Σ heads·d_head], row i of matrix m,
    /// head h at its part's offset + h·d_head.</summary>
    private float[] Fuse(Tensor[] mats, float[]? into = null)
    {
        int width = mats.Sum(m => m.Dim(0) * DHead);
        var fused = into ?? new float[DModel * width];
        int offset = 0;
        foreach (var mat in mats)
        {
            int heads = mat.Dim(0);
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < DModel; i++)
                    mat.Data.AsSpan((h * DModel + i) * DHead, DHead).CopyTo(fused.AsSpan(i * width + offset + h * DHead, DHead));
            offset += heads * DHead;
        }
        return fused;
    }
}
