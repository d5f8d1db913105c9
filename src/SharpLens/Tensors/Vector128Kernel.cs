using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

/// <summary>
/// 4 rows x 8 columns in portable 128-bit vectors (SSE, NEON). MultiplyAddEstimate rather than
/// FusedMultiplyAdd: it is a real FMA where the hardware has one and mul+add otherwise, whereas
/// FusedMultiplyAdd falls back to a slow software emulation.
/// </summary>
internal static unsafe class Vector128Kernel
{
    public const int Mr = 4;
    public const int Nr = 8;

    /// <summary>C[4, 8] (+)= A panel · B panel; <paramref name="ldb"/> is the B row stride in bytes, <typeparamref name="TRow"/> its storage.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TRow>(int kc, float* a, byte* b, nint ldb, float* c, nint ldc, bool accumulate) where TRow : struct, IPanelRow
    {
        var c00 = Vector128<float>.Zero; var c01 = Vector128<float>.Zero;
        var c10 = Vector128<float>.Zero; var c11 = Vector128<float>.Zero;
        var c20 = Vector128<float>.Zero; var c21 = Vector128<float>.Zero;
        var c30 = Vector128<float>.Zero; var c31 = Vector128<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            TRow.Load(b, out Vector128<float> b0, out Vector128<float> b1);
            c00 = Vector128.MultiplyAddEstimate(Vector128.Create(a[0]), b0, c00); c01 = Vector128.MultiplyAddEstimate(Vector128.Create(a[0]), b1, c01);
            c10 = Vector128.MultiplyAddEstimate(Vector128.Create(a[1]), b0, c10); c11 = Vector128.MultiplyAddEstimate(Vector128.Create(a[1]), b1, c11);
            c20 = Vector128.MultiplyAddEstimate(Vector128.Create(a[2]), b0, c20); c21 = Vector128.MultiplyAddEstimate(Vector128.Create(a[2]), b1, c21);
            c30 = Vector128.MultiplyAddEstimate(Vector128.Create(a[3]), b0, c30); c31 = Vector128.MultiplyAddEstimate(Vector128.Create(a[3]), b1, c31);
            a += 4;
            b += ldb;
        }
        if (accumulate)
        {
            c00 += Vector128.Load(c + 0 * ldc + 0); c01 += Vector128.Load(c + 0 * ldc + 4);
            c10 += Vector128.Load(c + 1 * ldc + 0); c11 += Vector128.Load(c + 1 * ldc + 4);
            c20 += Vector128.Load(c + 2 * ldc + 0); c21 += Vector128.Load(c + 2 * ldc + 4);
            c30 += Vector128.Load(c + 3 * ldc + 0); c31 += Vector128.Load(c + 3 * ldc + 4);
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 4);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 4);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 4);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 4);
    }
}
