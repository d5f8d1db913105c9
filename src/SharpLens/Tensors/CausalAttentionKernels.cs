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

    /// <summary>
    /// scores[i, j] = scale·(q_i · k_j) for j ≤ firstVisible + i, and -inf for the later keys up to <paramref name="keys"/>.
    /// </summary>
    /// <param name="q">Query rows of one head: row i is q[i·qStride .. i·qStride + dHead).</param>
    /// <param name="qStride">Distance between query rows (n_heads·d_head in [batch, pos, n_heads, d_head] buffers).</param>
    /// <param name="rows">Number of query rows.</param>
    /// <param name="k">Keys of the same head: key j is k[j·kStride .. j·kStride + dHead).</param>
    /// <param name="kStride">Distance between keys.</param>
    /// <param name="dHead">Length of a query or key (d_head).</param>
    /// <param name="firstVisible">The last key row 0 sees (row i sees keys 0..firstVisible + i).</param>
    /// <param name="keys">Length of a score row (keys cached and new); ≥ firstVisible + rows.</param>
    /// <param name="scale">1/√d_head.</param>
    /// <param name="scores">[rows, keys] written.</param>
    /// <param name="width">Widest vector the loops may use (tests drive the scalar path with <see cref="VectorWidth.Scalar"/>).</param>
    public static void CausalScores(ReadOnlySpan<float> q, int qStride, int rows, ReadOnlySpan<float> k, int kStride, int dHead,
        int firstVisible, int keys, float scale, Span<float> scores, VectorWidth width)
    {
        Check(q.Length, qStride, rows, dHead, keys, firstVisible, scores.Length);
        if (k.Length < (firstVisible + rows - 1) * kStride + dHead) throw new ArgumentException("k is shorter than the visible keys", nameof(k));
        int lanes = width >= VectorWidth.Vector512 ? 16 : width >= VectorWidth.Vector256 ? 8 : 1;
        if (lanes == 1)
        {
            for (int i = 0; i < rows; i++)
                for (int j = 0; j <= firstVisible + i; j++)
                {
                    float acc = 0;
                    for (int d = 0; d < dHead; d++) acc = MathF.FusedMultiplyAdd(q[i * qStride + d], k[j * kStride + d], acc);
                    scores[i * keys + j] = acc * scale;
                }
        }
        else
        {
            int needed = firstVisible + rows, padded = (needed + lanes - 1) / lanes * lanes;
            var kt = TransposedKeys(k, kStride, dHead, needed, padded);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int block = Math.Min(RowBlock, rows - r0), last = firstVisible + r0 + block;  // keys 0..last-1 are seen by some row
                for (int j0 = 0; j0 < last; j0 += lanes)
                    if (lanes == 16) ScoreTile512(q, qStride, r0, block, kt, padded, j0, dHead, firstVisible, keys, scale, scores);
                    else ScoreTile256(q, qStride, r0, block, kt, padded, j0, dHead, firstVisible, keys, scale, scores);
            }
        }
        for (int i = 0; i < rows; i++) scores.Slice(i * keys + firstVisible + i + 1, keys - firstVisible - i - 1).Fill(float.NegativeInfinity);
    }

    /// <summary>
    /// z[i] = Σ_j pattern[i, j]·v_j over the causal prefix (the pattern is zero after it), or over every key with
    /// <paramref name="allKeys"/> (a hook may have written there); overwrites z.
    /// </summary>
    /// <param name="pattern">[rows, keys] attention probabilities.</param>
    /// <param name="keys">Length of a pattern row.</param>
    /// <param name="rows">Number of query rows.</param>
    /// <param name="v">Values of one head: value j is v[j·vStride .. j·vStride + dHead).</param>
    /// <param name="vStride">Distance between values.</param>
    /// <param name="dHead">Length of a value (d_head).</param>
    /// <param name="firstVisible">The last key row 0 sees (rows mix keys 0..firstVisible + i).</param>
    /// <param name="allKeys">Mix every key of the row, not only the visible ones (a pattern hook may have written there).</param>
    /// <param name="z">Output rows: row i is z[i·zStride .. i·zStride + dHead).</param>
    /// <param name="zStride">Distance between output rows.</param>
    /// <param name="width">Widest vector the loops may use.</param>
    public static void Mix(ReadOnlySpan<float> pattern, int keys, int rows, ReadOnlySpan<float> v, int vStride, int dHead,
        int firstVisible, bool allKeys, Span<float> z, int zStride, VectorWidth width)
    {
        Check(z.Length, zStride, rows, dHead, keys, firstVisible, pattern.Length);
        int lanes = width >= VectorWidth.Vector512 ? 16 : width >= VectorWidth.Vector256 ? 8 : 1;
        for (int r0 = 0; r0 < rows; r0 += RowBlock)
        {
            int block = Math.Min(RowBlock, rows - r0);
            // Past a row's last visible key its probabilities are exactly 0 (exp(-inf)), and 0·v adds nothing, so a
            // block may run to its last row's prefix; every row still sums its keys in ascending order.
            int mixed = allKeys ? keys : firstVisible + r0 + block;
            if (v.Length < (mixed - 1) * vStride + dHead) throw new ArgumentException("v is shorter than the mixed keys", nameof(v));
            int c = 0;
            if (lanes == 16) for (; c <= dHead - 16; c += 16) MixTile512(pattern, keys, r0, block, v, vStride, c, mixed, z, zStride);
            if (lanes >= 8) for (; c <= dHead - 8; c += 8) MixTile256(pattern, keys, r0, block, v, vStride, c, mixed, z, zStride);
            for (; c < dHead; c++)
                for (int r = 0; r < block; r++)
                {
                    int i = r0 + r;
                    float acc = 0;
                    for (int j = 0; j < mixed; j++) acc = MathF.FusedMultiplyAdd(pattern[i * keys + j], v[j * vStride + c], acc);
                    z[i * zStride + c] = acc;
                }
        }
    }

    private static void Check(int qLength, int qStride, int rows, int dHead, int keys, int firstVisible, int scoresLength)
    {
        if (rows < 0 || dHead < 1 || firstVisible < 0 || firstVisible + rows > keys)
            throw new ArgumentException($"{rows} rows seeing keys from {firstVisible} do not fit rows of {keys} keys");
        if (rows > 0 && qLength < (rows - 1) * qStride + dHead) throw new ArgumentException("the row buffer is shorter than its rows");
        if (scoresLength < rows * keys) throw new ArgumentException("the score buffer is shorter than [rows, keys]");
    }

    private static float[] TransposedKeys(ReadOnlySpan<float> k, int kStride, int dHead, int needed, int padded)
    {
        var kt = _keysTransposed;
        if (kt is null || kt.Length < dHead * padded) _keysTransposed = kt = new float[Math.Max(dHead * padded, 64 * 1024)];
        for (int d = 0; d < dHead; d++)
        {
            var row = kt.AsSpan(d * padded, padded);
            for (int j = 0; j < needed; j++) row[j] = k[j * kStride + d];
            row[needed..].Clear();
        }
        return kt;
    }

    // One tile of scores: rows r0..r0+block-1 against keys j0..j0+15. Rows past the block repeat its last row (their
    // results are dropped), so the eight accumulators stay in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTile512(ReadOnlySpan<float> q, int qStride, int r0, int block, float[] kt, int padded, int j0, int dHead,
        int firstVisible, int keys, float scale, Span<float> scores)
    {
        ref float rq = ref MemoryMarshal.GetReference(q);
        ref float rk = ref MemoryMarshal.GetArrayDataReference(kt);
        nint q0 = Row(r0, 0, block, qStride), q1 = Row(r0, 1, block, qStride), q2 = Row(r0, 2, block, qStride), q3 = Row(r0, 3, block, qStride);
        nint q4 = Row(r0, 4, block, qStride), q5 = Row(r0, 5, block, qStride), q6 = Row(r0, 6, block, qStride), q7 = Row(r0, 7, block, qStride);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int d = 0; d < dHead; d++)
        {
            var kv = Vector512.LoadUnsafe(ref rk, (nuint)(d * padded + j0));
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
            StoreVisible(lane, r0 + r, j0, firstVisible, keys, scores);
        }
    }

    /// <summary><see cref="ScoreTile512"/> with eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreTile256(ReadOnlySpan<float> q, int qStride, int r0, int block, float[] kt, int padded, int j0, int dHead,
        int firstVisible, int keys, float scale, Span<float> scores)
    {
        ref float rq = ref MemoryMarshal.GetReference(q);
        ref float rk = ref MemoryMarshal.GetArrayDataReference(kt);
        nint q0 = Row(r0, 0, block, qStride), q1 = Row(r0, 1, block, qStride), q2 = Row(r0, 2, block, qStride), q3 = Row(r0, 3, block, qStride);
        nint q4 = Row(r0, 4, block, qStride), q5 = Row(r0, 5, block, qStride), q6 = Row(r0, 6, block, qStride), q7 = Row(r0, 7, block, qStride);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int d = 0; d < dHead; d++)
        {
            var kv = Vector256.LoadUnsafe(ref rk, (nuint)(d * padded + j0));
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
            StoreVisible(lane, r0 + r, j0, firstVisible, keys, scores);
        }
    }

    private static nint Row(int r0, int r, int block, int stride) => (nint)(r0 + Math.Min(r, block - 1)) * stride;

    /// <summary>Writes the lanes of row i that hold visible keys (j ≤ firstVisible + i).</summary>
    private static void StoreVisible(ReadOnlySpan<float> lane, int i, int j0, int firstVisible, int keys, Span<float> scores)
    {
        int count = Math.Min(lane.Length, firstVisible + i + 1 - j0);
        if (count > 0) lane[..count].CopyTo(scores.Slice(i * keys + j0, count));
    }

    // One tile of z: rows r0..r0+block-1, value columns c..c+15, summing keys 0..mixed-1 in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MixTile512(ReadOnlySpan<float> pattern, int keys, int r0, int block, ReadOnlySpan<float> v, int vStride, int c,
        int mixed, Span<float> z, int zStride)
    {
        ref float rp = ref MemoryMarshal.GetReference(pattern);
        ref float rv = ref MemoryMarshal.GetReference(v);
        nint p0 = Row(r0, 0, block, keys), p1 = Row(r0, 1, block, keys), p2 = Row(r0, 2, block, keys), p3 = Row(r0, 3, block, keys);
        nint p4 = Row(r0, 4, block, keys), p5 = Row(r0, 5, block, keys), p6 = Row(r0, 6, block, keys), p7 = Row(r0, 7, block, keys);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int j = 0; j < mixed; j++)
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
        for (int r = 0; r < block; r++) acc[r].CopyTo(z.Slice((r0 + r) * zStride + c, 16));
    }

    /// <summary><see cref="MixTile512"/> with eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MixTile256(ReadOnlySpan<float> pattern, int keys, int r0, int block, ReadOnlySpan<float> v, int vStride, int c,
        int mixed, Span<float> z, int zStride)
    {
        ref float rp = ref MemoryMarshal.GetReference(pattern);
        ref float rv = ref MemoryMarshal.GetReference(v);
        nint p0 = Row(r0, 0, block, keys), p1 = Row(r0, 1, block, keys), p2 = Row(r0, 2, block, keys), p3 = Row(r0, 3, block, keys);
        nint p4 = Row(r0, 4, block, keys), p5 = Row(r0, 5, block, keys), p6 = Row(r0, 6, block, keys), p7 = Row(r0, 7, block, keys);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int j = 0; j < mixed; j++)
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
        for (int r = 0; r < block; r++) acc[r].CopyTo(z.Slice((r0 + r) * zStride + c, 8));
    }
}
