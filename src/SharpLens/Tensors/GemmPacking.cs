using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLens.Tensors;

/// <summary>
/// Copies operand blocks into the micro-kernel's panel layout. Packing turns every operand
/// orientation (plain or transposed) into the same unit-stride streams, so one kernel serves all
/// four transpose combinations, and zero padding lets edge tiles run the full-size kernel.
/// </summary>
internal static unsafe partial class GemmPacking
{
    /// <summary>Widest MR or NR any kernel uses.</summary>
    private const int MaxPanel = 64;

    /// <summary>
    /// A rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into ceil(mc/mr) panels of kc*mr floats:
    /// panel[p*mr + r] = op(A)[i0 + panelRow + r, p0 + p]; rows past mc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* a, int m, int k, bool transposed, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        float** rowPtr = stackalloc float*[MaxPanel];
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            if (transposed)
            {
                // Stored [k, m]: the mr values for one p are contiguous, so each p is a short copy.
                float* src = a + (nint)p0 * m + i0 + ir;
                for (int p = 0; p < kc; p++, src += m, dst += mr)
                {
                    int r = 0;
                    for (; r < rows; r++) dst[r] = src[r];
                    for (; r < mr; r++) dst[r] = 0;
                }
            }
            else
            {
                // Stored [m, k]: gather one value from each of the mr rows per p so the writes are
                // contiguous; each source line is reused over 16 consecutive p, so reads stay cached.
                for (int r = 0; r < rows; r++) rowPtr[r] = a + (nint)(i0 + ir + r) * k + p0;
                int p = 0;
                if (mr == 8 && rows == 8 && Avx.IsSupported)
                {
                    // Full 8-row panel: 8x8 register transposes, ~8x fewer instructions than the
                    // scalar gather (A packing is on every call's critical path).
                    for (; p <= kc - 8; p += 8, dst += 64) Transpose8x8(rowPtr, p, dst);
                }
                for (; p < kc; p++, dst += mr)
                {
                    int r = 0;
                    for (; r < rows; r++) dst[r] = rowPtr[r][p];
                    for (; r < mr; r++) dst[r] = 0;
                }
            }
        }
    }

    /// <summary>dst[j*8 + r] = rows[r][p + j] for r, j in 0..8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float** rows, int p, float* dst)
    {
        var r0 = Avx.LoadVector256(rows[0] + p); var r1 = Avx.LoadVector256(rows[1] + p);
        var r2 = Avx.LoadVector256(rows[2] + p); var r3 = Avx.LoadVector256(rows[3] + p);
        var r4 = Avx.LoadVector256(rows[4] + p); var r5 = Avx.LoadVector256(rows[5] + p);
        var r6 = Avx.LoadVector256(rows[6] + p); var r7 = Avx.LoadVector256(rows[7] + p);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst + 0, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + 8, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 16, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 24, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 32, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 40, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 48, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 56, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>
    /// B rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into ceil(nc/nr) panels of kc*nr floats:
    /// panel[p*nr + c] = op(B)[p0 + p, j0 + panelCol + c]; columns past nc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* b, int k, int n, bool transposed, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            if (transposed)
            {
                if (Avx2.IsSupported && cols == nr && nr % 8 == 0 && (long)k * nr <= int.MaxValue)
                {
                    // Stored [n, k]: a packed row is a column of the source; one hardware gather
                    // fetches 8 of its values, faster than scalar loads + stores (.NET exposes no
                    // 512-bit gather).
                    var index = Vector256.CreateSequence(0, k);
                    float* src = b + (nint)(j0 + jr) * k + p0;
                    for (int p = 0; p < kc; p++, dst += nr)
                        for (int c = 0; c < nr; c += 8)
                            Avx2.GatherVector256(src + (nint)c * k + p, index, 4).Store(dst + c);
                }
                else
                {
                    // Clear the whole panel once (vectorized), then scatter the real columns into it.
                    new Span<float>(dst, checked(kc * nr)).Clear();
                    for (int c = 0; c < cols; c++)
                    {
                        float* src = b + (nint)(j0 + jr + c) * k + p0;
                        float* d = dst + c;
                        for (int p = 0; p < kc; p++) d[(nint)p * nr] = src[p];
                    }
                    dst += (nint)kc * nr;
                }
            }
            else
            {
                // Stored [k, n]: each packed row is a contiguous slice of a source row.
                float* src = b + (nint)p0 * n + j0 + jr;
                for (int p = 0; p < kc; p++, src += n, dst += nr)
                {
                    new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(dst, cols));
                    if (cols < nr) new Span<float>(dst + cols, nr - cols).Clear();
                }
            }
        }
    }
}
