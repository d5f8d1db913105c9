using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace SharpLens.Tensors;

/// <summary>
/// Tiny products (per-head attention scores, 8x8x64 and the like) without packing: padding a panel
/// to the kernel's 32 columns and copying edge tiles costs microseconds there, more than the math.
/// Rows of C are built from vectorized axpys (plain B) or dot products (transposed B), both of which
/// stream contiguous memory.
/// </summary>
internal static unsafe class GemmSmall
{
    /// <summary>At or below this many multiply-adds the packed path's fixed costs dominate.</summary>
    internal const long MaxMacs = 1L << 15;

    /// <summary>y += alpha·x. Hand-rolled: TensorPrimitives' per-call checks cost more than 64 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float alpha, float* x, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16) Vector512.Store(Vector512.MultiplyAddEstimate(va, Vector512.Load(x + i), Vector512.Load(y + i)), y + i);
        }
        // Not else-if: rows shorter than 16 (n = 8 per head) still get one 256-bit step.
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.MultiplyAddEstimate(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        }
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float* a, bool transposeA, float* b, bool transposeB, float* c,
        int m, int k, int n, bool accumulate)
    {
        float[]? rented = null;
        // A transposed is strided along k; gather each row once so the dot products stay contiguous.
        Span<float> rowBuffer = transposeA && transposeB
            ? (k <= 1024 ? stackalloc float[k] : (rented = ArrayPool<float>.Shared.Rent(k)).AsSpan(0, k))
            : default;
        try
        {
            for (int i = 0; i < m; i++)
            {
                var cRow = new Span<float>(c + (nint)i * n, n);
                if (!transposeB)
                {
                    if (!accumulate) cRow.Clear();
                    for (int p = 0; p < k; p++)
                    {
                        float av = transposeA ? a[(nint)p * m + i] : a[(nint)i * k + p];
                        Axpy(av, b + (nint)p * n, c + (nint)i * n, n);
                    }
                }
                else
                {
                    ReadOnlySpan<float> aRow;
                    if (transposeA)
                    {
                        for (int p = 0; p < k; p++) rowBuffer[p] = a[(nint)p * m + i];
                        aRow = rowBuffer;
                    }
                    else aRow = new ReadOnlySpan<float>(a + (nint)i * k, k);
                    for (int j = 0; j < n; j++)
                    {
                        float dot = TensorPrimitives.Dot(aRow, new ReadOnlySpan<float>(b + (nint)j * k, k));
                        cRow[j] = accumulate ? cRow[j] + dot : dot;
                    }
                }
            }
        }
        finally
        {
            if (rented != null) ArrayPool<float>.Shared.Return(rented);
        }
    }
}
