using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

/// <summary>
/// The two products of one attention head, register-blocked: scores = q·kᵀ·scale (causal) and z = pattern·v. A dot
/// product per (query, key) pair (one horizontal sum each) ran at a tenth of the GEMM's speed; here eight query rows
/// share every load of a key or value vector and each lane accumulates with fused multiply-adds. Every entry is
/// accumulated in the same order (d_head, or keys, ascending, one fused multiply-add each) in the vector and the scalar
/// path, so results do not depend on the vector width or on how rows were blocked: a row computed alone (query rows,
/// KV-cached generation) equals the same row of a full pass bit for bit.
/// </summary>
internal static class CausalAttentionKernels
{
    private const int RowBlock = 8;

    /// <summary>Keys of the head transposed to [d_head, keys] (one buffer per thread, grown on demand).</summary>
    [ThreadStatic] private static float[]? _keysTransposed;
    /// <summary>The fused path's scores and probabilities of one row block (one buffer per thread, grown on demand).</summary>
    [ThreadStatic] private static float[]? _blockScores;

    /// <summary>
    /// scores[i, j] = scale·(q_i · k_j) for the keys row i sees (j ≤ firstVisible + i, and j &gt; firstVisible + i - window
    /// with a sliding <paramref name="window"/>), and -inf for every other key up to <paramref name="keys"/>.
    /// </summary>
    /// <param name="q">Query rows of one head: row i is q[i·qStride .. i·qStride + dHead).</param>
    /// <param name="qStride">Distance between query rows (n_heads·d_head in [batch, pos, n_heads, d_head] buffers).</param>
    /// <param name="rows">Number of query rows.</param>
    /// <param name="k">Keys of the same head (of the head's key/value group under grouped-query attention): key j is k[j·kStride .. j·kStride + dHead).</param>
    /// <param name="kStride">Distance between keys.</param>
    /// <param name="dHead">Length of a query or key (d_head).</param>
    /// <param name="firstVisible">The last key row 0 sees (row i sees keys up to firstVisible + i).</param>
    /// <param name="keys">Length of a score row (keys cached and new); ≥ firstVisible + rows.</param>
    /// <param name="scale">1/√d_head.</param>
    /// <param name="scores">[rows, keys] written.</param>
    /// <param name="width">Widest vector the loops may use (tests drive the scalar path with <see cref="VectorWidth.Scalar"/>).</param>
    /// <param name="window">Sliding window: a row sees its last <paramref name="window"/> keys only (0: every earlier key).</param>
    public static void CausalScores(ReadOnlySpan<float> q, int qStride, int rows, ReadOnlySpan<float> k, int kStride, int dHead,
        int firstVisible, int keys, float scale, Span<float> scores, VectorWidth width, int window = 0)
    {
        Check(q.Length, qStride, rows, dHead, keys, firstVisible, scores.Length, window);
        CheckRows(k.Length, firstVisible + rows, kStride, dHead, nameof(k));
        int lanes = Lanes(width);
        var kt = TransposedKeys(k, kStride, dHead, KeyTileStart(0, firstVisible, window, lanes), firstVisible + rows, lanes);
        for (int r0 = 0; r0 < rows; r0 += RowBlock)
            ScoreBlock(q, qStride, r0, Math.Min(RowBlock, rows - r0), kt, dHead, firstVisible, window, scale, lanes, scores[(r0 * keys)..], keys, 0);
        for (int i = 0; i < rows; i++)
        {
            var row = scores.Slice(i * keys, keys);
            int lo = Lowest(i, firstVisible, window), hi = firstVisible + i;
            row[..lo].Fill(float.NegativeInfinity);
            row[(hi + 1)..].Fill(float.NegativeInfinity);
        }
    }

    /// <summary>
    /// Softmax of each row over the keys it sees (<see cref="CausalScores"/>' visible range), zero elsewhere: the
    /// pattern of causal (and sliding-window) scores whose masked entries nobody changed. Half the work of a softmax over
    /// whole rows at full context, and the same arithmetic as <see cref="Attend"/>.
    /// </summary>
    /// <param name="scores">[rows, keys] scores, overwritten by the probabilities.</param>
    /// <param name="keys">Length of a row.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="firstVisible">The last key row 0 sees.</param>
    /// <param name="window">The sliding window the scores were computed with (0: none).</param>
    public static void CausalSoftmax(Span<float> scores, int keys, int rows, int firstVisible, int window = 0)
    {
        Check(0, 0, 0, 1, keys, firstVisible, scores.Length, window);
        if (firstVisible + rows > keys || scores.Length < rows * keys) throw new ArgumentException("the score buffer is shorter than [rows, keys]", nameof(scores));
        for (int i = 0; i < rows; i++)
            VisibleSoftmax(scores.Slice(i * keys, keys), Lowest(i, firstVisible, window), firstVisible + i);
    }

    /// <summary>
    /// z[i] = Σ_j pattern[i, j]·v_j over the keys row i sees (the pattern is zero elsewhere), or over every key with
    /// <paramref name="allKeys"/> (a hook may have written there); overwrites z.
    /// </summary>
    /// <param name="pattern">[rows, keys] attention probabilities.</param>
    /// <param name="keys">Length of a pattern row.</param>
    /// <param name="rows">Number of query rows.</param>
    /// <param name="v">Values of one head: value j is v[j·vStride .. j·vStride + dHead).</param>
    /// <param name="vStride">Distance between values.</param>
    /// <param name="dHead">Length of a value (d_head).</param>
    /// <param name="firstVisible">The last key row 0 sees (rows mix keys up to firstVisible + i).</param>
    /// <param name="allKeys">Mix every key of the row, not only the visible ones (a pattern hook may have written there).</param>
    /// <param name="z">Output rows: row i is z[i·zStride .. i·zStride + dHead).</param>
    /// <param name="zStride">Distance between output rows.</param>
    /// <param name="width">Widest vector the loops may use.</param>
    /// <param name="window">The sliding window of the pattern (0: none); ignored with <paramref name="allKeys"/>.</param>
    public static void Mix(ReadOnlySpan<float> pattern, int keys, int rows, ReadOnlySpan<float> v, int vStride, int dHead,
        int firstVisible, bool allKeys, Span<float> z, int zStride, VectorWidth width, int window = 0)
    {
        Check(z.Length, zStride, rows, dHead, keys, firstVisible, pattern.Length, window);
        int lanes = Lanes(width);
        for (int r0 = 0; r0 < rows; r0 += RowBlock)
        {
            int block = Math.Min(RowBlock, rows - r0);
            // Outside a row's visible keys its probabilities are exactly 0 (exp(-inf)), and 0·v adds nothing, so a
            // block may mix the union of its rows' keys; every row still sums its keys in ascending order.
            int first = allKeys ? 0 : Lowest(r0, firstVisible, window), end = allKeys ? keys : firstVisible + r0 + block;
            CheckRows(v.Length, end, vStride, dHead, nameof(v));
            MixBlock(pattern[(r0 * keys + first)..], keys, block, v[(first * vStride)..], vStride, dHead, end - first, z[(r0 * zStride)..], zStride, lanes);
        }
    }

    /// <summary>
    /// The whole causal attention of one head without materialising its [rows, keys] scores: for each block of eight
    /// query rows, the scores of the keys they see, their softmax and the mix of the values, in a block-sized buffer.
    /// The same arithmetic as <see cref="CausalScores"/>, <see cref="CausalSoftmax"/> and <see cref="Mix"/> in turn (bit
    /// for bit), without their memory traffic: at 1,024 tokens one head's scores are 4 MB, written, read and rewritten.
    /// </summary>
    /// <param name="q">Query rows of one head: row i is q[i·qStride .. i·qStride + dHead).</param>
    /// <param name="qStride">Distance between query rows.</param>
    /// <param name="rows">Number of query rows.</param>
    /// <param name="k">Keys of the head (or of its key/value group): key j is k[j·kStride .. j·kStride + dHead).</param>
    /// <param name="kStride">Distance between keys.</param>
    /// <param name="v">Values, laid out like the keys.</param>
    /// <param name="vStride">Distance between values.</param>
    /// <param name="dHead">d_head.</param>
    /// <param name="firstVisible">The last key row 0 sees.</param>
    /// <param name="window">Sliding window (0: none).</param>
    /// <param name="scale">1/√d_head.</param>
    /// <param name="z">Output rows: row i is z[i·zStride .. i·zStride + dHead).</param>
    /// <param name="zStride">Distance between output rows.</param>
    /// <param name="width">Widest vector the loops may use.</param>
    public static void Attend(ReadOnlySpan<float> q, int qStride, int rows, ReadOnlySpan<float> k, int kStride,
        ReadOnlySpan<float> v, int vStride, int dHead, int firstVisible, int window, float scale, Span<float> z, int zStride, VectorWidth width)
    {
        Check(q.Length, qStride, rows, dHead, firstVisible + rows, firstVisible, int.MaxValue, window);
        Check(z.Length, zStride, rows, dHead, firstVisible + rows, firstVisible, int.MaxValue, window);
        CheckRows(k.Length, firstVisible + rows, kStride, dHead, nameof(k));
        CheckRows(v.Length, firstVisible + rows, vStride, dHead, nameof(v));
        int lanes = Lanes(width);
        var kt = TransposedKeys(k, kStride, dHead, KeyTileStart(0, firstVisible, window, lanes), firstVisible + rows, lanes);
        int widest = window > 0 ? Math.Min(window + RowBlock, firstVisible + rows) : firstVisible + rows;
        var buffer = _blockScores;
        if (buffer is null || buffer.Length < RowBlock * widest) _blockScores = buffer = new float[Math.Max(RowBlock * widest, 4096)];
        for (int r0 = 0; r0 < rows; r0 += RowBlock)
        {
            int block = Math.Min(RowBlock, rows - r0);
            int first = Lowest(r0, firstVisible, window), span = firstVisible + r0 + block - first;
            var p = buffer.AsSpan(0, block * span);
            ScoreBlock(q, qStride, r0, block, kt, dHead, firstVisible, window, scale, lanes, p, span, first);
            for (int r = 0; r < block; r++)
                VisibleSoftmax(p.Slice(r * span, span), Lowest(r0 + r, firstVisible, window) - first, firstVisible + r0 + r - first);
            MixBlock(p, span, block, v[(first * vStride)..], vStride, dHead, span, z[(r0 * zStride)..], zStride, lanes);
        }
    }

    /// <summary>The first key row i sees.</summary>
    private static int Lowest(int i, int firstVisible, int window) => window > 0 ? Math.Max(0, firstVisible + i + 1 - window) : 0;

    /// <summary>The first key of row i's first key tile (its lowest key rounded down to the vector width).</summary>
    private static int KeyTileStart(int i, int firstVisible, int window, int lanes) => Lowest(i, firstVisible, window) / lanes * lanes;

    private static int Lanes(VectorWidth width) => width >= VectorWidth.Vector512 ? 16 : width >= VectorWidth.Vector256 ? 8 : 1;

    /// <summary>Softmax of row[lo..hi], zero elsewhere in the row.</summary>
    private static void VisibleSoftmax(Span<float> row, int lo, int hi)
    {
        row[..lo].Clear();
        Kernels.SoftmaxRows(row[lo..(hi + 1)], hi + 1 - lo);
        row[(hi + 1)..].Clear();
    }

    /// <summary>
    /// Scores of rows r0..r0+block-1 at the keys each sees, written to dst[(i - r0)·dstStride + j - dstBase]; entries of
    /// keys a row does not see are left alone.
    /// </summary>
    private static void ScoreBlock(ReadOnlySpan<float> q, int qStride, int r0, int block, in KeyTiles kt, int dHead, int firstVisible,
        int window, float scale, int lanes, Span<float> dst, int dstStride, int dstBase)
    {
        if (lanes == 1)
        {
            for (int r = 0; r < block; r++)
            {
                int i = r0 + r;
                for (int j = Lowest(i, firstVisible, window); j <= firstVisible + i; j++)
                {
                    float acc = 0;
                    for (int d = 0; d < dHead; d++) acc = MathF.FusedMultiplyAdd(q[i * qStride + d], kt.Keys[d * kt.Padded + j - kt.First], acc);
                    dst[r * dstStride + j - dstBase] = acc * scale;
                }
            }
            return;
        }
        int end = firstVisible + r0 + block;  // keys below end are seen by some row of the block
        for (int j0 = KeyTileStart(r0, firstVisible, window, lanes); j0 < end; j0 += lanes)
            if (lanes == 16) ScoreTile512(q, qStride, r0, block, kt, j0, dHead, firstVisible, window, scale, dst, dstStride, dstBase);
            else ScoreTile256(q, qStride, r0, block, kt, j0, dHead, firstVisible, window, scale, dst, dstStride, dstBase);
    }

    /// <summary>z rows of one block = p·v, p [block, count] with row stride pStride, v's first row the block's first mixed key.</summary>
    private static void MixBlock(ReadOnlySpan<float> p, int pStride, int block, ReadOnlySpan<float> v, int vStride, int dHead, int count,
        Span<float> z, int zStride, int lanes)
    {
        int c = 0;
        if (lanes == 16) for (; c <= dHead - 16; c += 16) MixTile512(p, pStride, block, v, vStride, c, count, z, zStride);
        if (lanes >= 8) for (; c <= dHead - 8; c += 8) MixTile256(p, pStride, block, v, vStride, c, count, z, zStride);
        for (; c < dHead; c++)
            for (int r = 0; r < block; r++)
            {
                float acc = 0;
                for (int j = 0; j < count; j++) acc = MathF.FusedMultiplyAdd(p[r * pStride + j], v[j * vStride + c], acc);
                z[r * zStride + c] = acc;
            }
    }

    private static void Check(int qLength, int qStride, int rows, int dHead, int keys, int firstVisible, int scoresLength, int window)
    {
        if (rows < 0 || dHead < 1 || firstVisible < 0 || firstVisible + rows > keys)
            throw new ArgumentException($"{rows} rows seeing keys from {firstVisible} do not fit rows of {keys} keys");
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "the sliding window must be 0 (none) or positive");
        if (rows > 0 && qLength < (long)(rows - 1) * qStride + dHead) throw new ArgumentException("the row buffer is shorter than its rows");
        if (scoresLength < (long)rows * keys) throw new ArgumentException("the score buffer is shorter than [rows, keys]");
    }

    private static void CheckRows(int length, int count, int stride, int dHead, string name)
    {
        if (count > 0 && length < (long)(count - 1) * stride + dHead) throw new ArgumentException($"{name} is shorter than the keys it must hold", name);
    }

    /// <summary>Keys first..needed-1 transposed to [d_head, padded] (column j - first holds key j), zero padded.</summary>
    private readonly struct KeyTiles(float[] keys, int first, int padded)
    {
        public readonly float[] Keys = keys;
        public readonly int First = first;
        public readonly int Padded = padded;
    }

    private static KeyTiles TransposedKeys(ReadOnlySpan<float> k, int kStride, int dHead, int first, int needed, int lanes)
    {
        int count = needed - first, padded = (count + lanes - 1) / lanes * lanes;
        // A row length of a multiple of 256 floats puts every d of one tile in the same few L1 sets (a 4 KiB stride at
        // 1,024 keys): pad it off that alignment so the d_head rows of a tile spread over the cache.
        if (padded % 256 == 0) padded += 16;
        var kt = _keysTransposed;
        if (kt is null || kt.Length < dHead * padded) _keysTransposed = kt = new float[Math.Max(dHead * padded, 64 * 1024)];
        for (int d = 0; d < dHead; d++)
        {
            var row = kt.AsSpan(d * padded, padded);
            for (int j = 0; j < count; j++) row[j] = k[(first + j) * kStride + d];
            row[count..].Clear();
        }
        return new KeyTiles(kt, first, padded);
    }

    // One tile of scores: rows r0..r0+block-1 against keys j0..j0+15. Rows past the block repeat its last row (their
    // results are dropped), so the eight accumulators stay in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTile512(ReadOnlySpan<float> q, int qStride, int r0, int block, in KeyTiles kt, int j0, int dHead,
        int firstVisible, int window, float scale, Span<float> dst, int dstStride, int dstBase)
    {
        ref float rq = ref MemoryMarshal.GetReference(q);
        ref float rk = ref MemoryMarshal.GetArrayDataReference(kt.Keys);
        nint q0 = Row(r0, 0, block, qStride), q1 = Row(r0, 1, block, qStride), q2 = Row(r0, 2, block, qStride), q3 = Row(r0, 3, block, qStride);
        nint q4 = Row(r0, 4, block, qStride), q5 = Row(r0, 5, block, qStride), q6 = Row(r0, 6, block, qStride), q7 = Row(r0, 7, block, qStride);
        int padded = kt.Padded, column = j0 - kt.First;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int d = 0; d < dHead; d++)
        {
            var kv = Vector512.LoadUnsafe(ref rk, (nuint)(d * padded + column));
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q0 + d)), kv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q1 + d)), kv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q2 + d)), kv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q3 + d)), kv, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q4 + d)), kv, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q5 + d)), kv, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q6 + d)), kv, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rq, q7 + d)), kv, a7);
        }
        Span<float> lane = stackalloc float[16];
        ReadOnlySpan<Vector512<float>> acc = [a0, a1, a2, a3, a4, a5, a6, a7];
        for (int r = 0; r < block; r++)
        {
            (acc[r] * scale).CopyTo(lane);
            StoreVisible(lane, r0 + r, j0, firstVisible, window, dst[(r * dstStride)..], dstBase);
        }
    }

    /// <summary><see cref="ScoreTile512"/> with eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTile256(ReadOnlySpan<float> q, int qStride, int r0, int block, in KeyTiles kt, int j0, int dHead,
        int firstVisible, int window, float scale, Span<float> dst, int dstStride, int dstBase)
    {
        ref float rq = ref MemoryMarshal.GetReference(q);
        ref float rk = ref MemoryMarshal.GetArrayDataReference(kt.Keys);
        nint q0 = Row(r0, 0, block, qStride), q1 = Row(r0, 1, block, qStride), q2 = Row(r0, 2, block, qStride), q3 = Row(r0, 3, block, qStride);
        nint q4 = Row(r0, 4, block, qStride), q5 = Row(r0, 5, block, qStride), q6 = Row(r0, 6, block, qStride), q7 = Row(r0, 7, block, qStride);
        int padded = kt.Padded, column = j0 - kt.First;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int d = 0; d < dHead; d++)
        {
            var kv = Vector256.LoadUnsafe(ref rk, (nuint)(d * padded + column));
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q0 + d)), kv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q1 + d)), kv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q2 + d)), kv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q3 + d)), kv, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q4 + d)), kv, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q5 + d)), kv, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q6 + d)), kv, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rq, q7 + d)), kv, a7);
        }
        Span<float> lane = stackalloc float[8];
        ReadOnlySpan<Vector256<float>> acc = [a0, a1, a2, a3, a4, a5, a6, a7];
        for (int r = 0; r < block; r++)
        {
            (acc[r] * scale).CopyTo(lane);
            StoreVisible(lane, r0 + r, j0, firstVisible, window, dst[(r * dstStride)..], dstBase);
        }
    }

    private static nint Row(int r0, int r, int block, int stride) => (nint)(r0 + Math.Min(r, block - 1)) * stride;

    /// <summary>Writes the lanes (keys j0, j0+1, ...) that row i sees to dstRow[j - dstBase].</summary>
    private static void StoreVisible(ReadOnlySpan<float> lane, int i, int j0, int firstVisible, int window, Span<float> dstRow, int dstBase)
    {
        int from = Math.Max(j0, Lowest(i, firstVisible, window)), to = Math.Min(j0 + lane.Length, firstVisible + i + 1);
        if (from < to) lane[(from - j0)..(to - j0)].CopyTo(dstRow[(from - dstBase)..]);
    }

    // One tile of z: rows 0..block-1 of p (row stride pStride), value columns c..c+15, summing keys 0..count-1 in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MixTile512(ReadOnlySpan<float> pattern, int pStride, int block, ReadOnlySpan<float> v, int vStride, int c,
        int count, Span<float> z, int zStride)
    {
        ref float rp = ref MemoryMarshal.GetReference(pattern);
        ref float rv = ref MemoryMarshal.GetReference(v);
        nint p0 = Row(0, 0, block, pStride), p1 = Row(0, 1, block, pStride), p2 = Row(0, 2, block, pStride), p3 = Row(0, 3, block, pStride);
        nint p4 = Row(0, 4, block, pStride), p5 = Row(0, 5, block, pStride), p6 = Row(0, 6, block, pStride), p7 = Row(0, 7, block, pStride);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int j = 0; j < count; j++)
        {
            var vv = Vector512.LoadUnsafe(ref rv, (nuint)(j * vStride + c));
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p0 + j)), vv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p1 + j)), vv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p2 + j)), vv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p3 + j)), vv, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p4 + j)), vv, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p5 + j)), vv, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p6 + j)), vv, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref rp, p7 + j)), vv, a7);
        }
        ReadOnlySpan<Vector512<float>> acc = [a0, a1, a2, a3, a4, a5, a6, a7];
        for (int r = 0; r < block; r++) acc[r].CopyTo(z.Slice(r * zStride + c, 16));
    }

    /// <summary><see cref="MixTile512"/> with eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MixTile256(ReadOnlySpan<float> pattern, int pStride, int block, ReadOnlySpan<float> v, int vStride, int c,
        int count, Span<float> z, int zStride)
    {
        ref float rp = ref MemoryMarshal.GetReference(pattern);
        ref float rv = ref MemoryMarshal.GetReference(v);
        nint p0 = Row(0, 0, block, pStride), p1 = Row(0, 1, block, pStride), p2 = Row(0, 2, block, pStride), p3 = Row(0, 3, block, pStride);
        nint p4 = Row(0, 4, block, pStride), p5 = Row(0, 5, block, pStride), p6 = Row(0, 6, block, pStride), p7 = Row(0, 7, block, pStride);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int j = 0; j < count; j++)
        {
            var vv = Vector256.LoadUnsafe(ref rv, (nuint)(j * vStride + c));
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p0 + j)), vv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p1 + j)), vv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p2 + j)), vv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p3 + j)), vv, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p4 + j)), vv, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p5 + j)), vv, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p6 + j)), vv, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref rp, p7 + j)), vv, a7);
        }
        ReadOnlySpan<Vector256<float>> acc = [a0, a1, a2, a3, a4, a5, a6, a7];
        for (int r = 0; r < block; r++) acc[r].CopyTo(z.Slice(r * zStride + c, 8));
    }
}
