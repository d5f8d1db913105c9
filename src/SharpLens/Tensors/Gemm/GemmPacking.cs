using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLens.Tensors;

/// <summary>
/// Copies operand blocks into the micro-kernel's panel layout. Packing turns every operand
/// orientation (plain or transposed) into the same unit-stride streams, so one kernel serves all
/// four transpose combinations, and zero padding lets edge tiles run the full-size kernel.
/// </summary>
internal static unsafe class GemmPacking
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
                for (int p = 0; p < kc; p++, dst += mr)
                {
                    int r = 0;
                    for (; r < rows; r++) dst[r] = rowPtr[r][p];
                    for (; r < mr; r++) dst[r] = 0;
                }
            }
        }
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
