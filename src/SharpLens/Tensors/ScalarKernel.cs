using System.Runtime.CompilerServices;

namespace SharpLens.Tensors;

/// <summary>
/// 4 x 4 in plain floats: the path for CPUs without vector acceleration; 16 independent sums are
/// enough to hide scalar add latency. Same packed layout contract as the vector kernels.
/// </summary>
internal static unsafe class ScalarKernel
{
    public const int Mr = 4;
    public const int Nr = 4;

    /// <summary>C[4, 4] (+)= A panel · B panel; <paramref name="ldb"/> is the B row stride in bytes, <typeparamref name="TRow"/> its storage.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TRow>(int kc, float* a, byte* b, nint ldb, float* c, nint ldc, bool accumulate) where TRow : struct, IPanelRow
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            TRow.Load(b, out float b0, out float b1, out float b2, out float b3);
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += 4;
            b += ldb;
        }
        float* r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc;
        if (accumulate)
        {
            c00 += r0[0]; c01 += r0[1]; c02 += r0[2]; c03 += r0[3];
            c10 += r1[0]; c11 += r1[1]; c12 += r1[2]; c13 += r1[3];
            c20 += r2[0]; c21 += r2[1]; c22 += r2[2]; c23 += r2[3];
            c30 += r3[0]; c31 += r3[1]; c32 += r3[2]; c33 += r3[3];
        }
        r0[0] = c00; r0[1] = c01; r0[2] = c02; r0[3] = c03;
        r1[0] = c10; r1[1] = c11; r1[2] = c12; r1[3] = c13;
        r2[0] = c20; r2[1] = c21; r2[2] = c22; r2[3] = c23;
        r3[0] = c30; r3[1] = c31; r3[2] = c32; r3[3] = c33;
    }
}
