using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace SharpLens.Tensors;

/// <summary>
/// Tiny products with a transposed B (per-head attention scores Q·Kᵀ, 8x64x8 and the like) without
/// packing: padding each B panel to the kernel's 32 columns and copying edge tiles costs
/// microseconds there, more than the math. Each C element is one contiguous dot product.
/// </summary>
internal static unsafe class GemmSmall
{
    /// <summary>At or below this many multiply-adds the packed path's fixed costs dominate.</summary>
    internal const long MaxMacs = 1L << 15;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyTransposedB(float* a, bool transposeA, float* b, float* c,
        int m, int k, int n, bool accumulate)
    {
        Debug.Assert((long)m * n * k <= MaxMacs);
        float[]? rented = null;
        // A transposed is strided along k; gather each row once so the dot products stay contiguous.
        Span<float> rowBuffer = transposeA
            ? (k <= 1024 ? stackalloc float[k] : (rented = ArrayPool<float>.Shared.Rent(k)).AsSpan(0, k))
            : default;
        try
        {
            for (int i = 0; i < m; i++)
            {
                scoped ReadOnlySpan<float> aRow;
                if (transposeA)
                {
                    for (int p = 0; p < k; p++) rowBuffer[p] = a[(nint)p * m + i];
                    aRow = rowBuffer;
                }
                else aRow = new ReadOnlySpan<float>(a + (nint)i * k, k);
                float* cRow = c + (nint)i * n;
                for (int j = 0; j < n; j++)
                {
                    float dot = TensorPrimitives.Dot(aRow, new ReadOnlySpan<float>(b + (nint)j * k, k));
                    cRow[j] = accumulate ? cRow[j] + dot : dot;
                }
            }
        }
        finally
        {
            if (rented != null) ArrayPool<float>.Shared.Return(rented);
        }
    }
}
