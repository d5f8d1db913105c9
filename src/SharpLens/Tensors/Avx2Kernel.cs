using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLens.Tensors;

/// <summary>
/// 6 rows x 16 columns: 12 ymm accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers of
/// an AVX2-only CPU without spills (the classic Haswell shape).
/// </summary>
internal static unsafe class Avx2Kernel
{
    public const int Mr = 6;
    public const int Nr = 16;

    /// <summary>C[6, 16] (+)= A panel · B panel; <paramref name="ldb"/> is the B row stride in bytes, <typeparamref name="TRow"/> its storage.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TRow>(int kc, float* a, byte* b, nint ldb, float* c, nint ldc, bool accumulate) where TRow : struct, IPanelRow
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            TRow.Load(b, out Vector256<float> b0, out Vector256<float> b1);
            c00 = Fma.MultiplyAdd(Vector256.Create(a[0]), b0, c00); c01 = Fma.MultiplyAdd(Vector256.Create(a[0]), b1, c01);
            c10 = Fma.MultiplyAdd(Vector256.Create(a[1]), b0, c10); c11 = Fma.MultiplyAdd(Vector256.Create(a[1]), b1, c11);
            c20 = Fma.MultiplyAdd(Vector256.Create(a[2]), b0, c20); c21 = Fma.MultiplyAdd(Vector256.Create(a[2]), b1, c21);
            c30 = Fma.MultiplyAdd(Vector256.Create(a[3]), b0, c30); c31 = Fma.MultiplyAdd(Vector256.Create(a[3]), b1, c31);
            c40 = Fma.MultiplyAdd(Vector256.Create(a[4]), b0, c40); c41 = Fma.MultiplyAdd(Vector256.Create(a[4]), b1, c41);
            c50 = Fma.MultiplyAdd(Vector256.Create(a[5]), b0, c50); c51 = Fma.MultiplyAdd(Vector256.Create(a[5]), b1, c51);
            a += 6;
            b += ldb;
        }
        if (accumulate)
        {
            c00 += Vector256.Load(c + 0 * ldc + 0); c01 += Vector256.Load(c + 0 * ldc + 8);
            c10 += Vector256.Load(c + 1 * ldc + 0); c11 += Vector256.Load(c + 1 * ldc + 8);
            c20 += Vector256.Load(c + 2 * ldc + 0); c21 += Vector256.Load(c + 2 * ldc + 8);
            c30 += Vector256.Load(c + 3 * ldc + 0); c31 += Vector256.Load(c + 3 * ldc + 8);
            c40 += Vector256.Load(c + 4 * ldc + 0); c41 += Vector256.Load(c + 4 * ldc + 8);
            c50 += Vector256.Load(c + 5 * ldc + 0); c51 += Vector256.Load(c + 5 * ldc + 8);
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 8);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 8);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 8);
    }
}
