using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLens.Tensors;

/// <summary>
/// 8 rows x 32 columns (two zmm per row): 16 accumulators cover the 4-cycle FMA latency on both FMA
/// ports with room to spare in the 32 zmm registers, and 8 rows divide the model's m = 64 evenly.
/// The A broadcast is written as Create(a[r]) inside the FMA so the JIT can fold it into an embedded
/// {1to16} broadcast operand instead of a separate shuffle.
/// </summary>
internal static unsafe class Avx512Kernel
{
    public const int Mr = 8;
    public const int Nr = 32;

    /// <summary>C[8, 32] (+)= A panel · B panel; <paramref name="ldb"/> is the B row stride in bytes, <typeparamref name="TRow"/> its storage.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TRow>(int kc, float* a, byte* b, nint ldb, float* c, nint ldc, bool accumulate) where TRow : struct, IPanelRow
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        // Prefetch (into L2) the B rows one depth block ahead: for pre-packed B that is the next block this
        // panel (or the next panel) will use, so when B streams from memory (the unembedding's 154 MB W_U)
        // the DRAM fetch overlaps this block's compute instead of stalling the next block's first row tile.
        // Later row tiles re-issue it for lines already in L2, which is nearly free; prefetches never fault.
        nint ahead = kc * ldb;
        for (int p = 0; p < kc; p++)
        {
            Sse.Prefetch1(b + ahead);
            if (TRow.ElementSize == 4) Sse.Prefetch1(b + ahead + 64); // a float32 row spans two cache lines
            TRow.Load(b, out Vector512<float> b0, out Vector512<float> b1);
            c00 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c00); c01 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b1, c01);
            c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c10); c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b1, c11);
            c20 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c20); c21 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b1, c21);
            c30 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c30); c31 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b1, c31);
            c40 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c40); c41 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b1, c41);
            c50 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c50); c51 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b1, c51);
            c60 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c60); c61 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b1, c61);
            c70 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c70); c71 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b1, c71);
            a += 8;
            b += ldb;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0 * ldc + 0); c01 += Vector512.Load(c + 0 * ldc + 16);
            c10 += Vector512.Load(c + 1 * ldc + 0); c11 += Vector512.Load(c + 1 * ldc + 16);
            c20 += Vector512.Load(c + 2 * ldc + 0); c21 += Vector512.Load(c + 2 * ldc + 16);
            c30 += Vector512.Load(c + 3 * ldc + 0); c31 += Vector512.Load(c + 3 * ldc + 16);
            c40 += Vector512.Load(c + 4 * ldc + 0); c41 += Vector512.Load(c + 4 * ldc + 16);
            c50 += Vector512.Load(c + 5 * ldc + 0); c51 += Vector512.Load(c + 5 * ldc + 16);
            c60 += Vector512.Load(c + 6 * ldc + 0); c61 += Vector512.Load(c + 6 * ldc + 16);
            c70 += Vector512.Load(c + 7 * ldc + 0); c71 += Vector512.Load(c + 7 * ldc + 16);
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc + 0); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc + 0); c71.Store(c + 7 * ldc + 16);
    }
}
