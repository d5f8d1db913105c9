using System.Runtime.CompilerServices;

namespace SharpLens.Tensors;

/// <summary>
/// Single-precision matrix multiply, row-major: C[m, n] = (accumulate ? C : 0) + op(A)[m, k] · op(B)[k, n].
/// op(X) is X or Xᵀ; a transposed A is stored [k, m], a transposed B is stored [n, k].
/// </summary>
internal static class Gemm
{
    /// <summary>The micro-kernel family in use on this CPU: "Avx512", "Avx2", "Vector128" or "Scalar".</summary>
    public static string ActiveIsa => (GemmIsaSelector.ForcedIsa == GemmIsa.Auto ? GemmIsaSelector.Best : GemmIsaSelector.ForcedIsa).ToString();

    /// <param name="a">[m, k], or [k, m] when <paramref name="transposeA"/>.</param>
    /// <param name="b">[k, n], or [n, k] when <paramref name="transposeB"/>.</param>
    /// <param name="c">[m, n], written (or added to when <paramref name="accumulate"/>).</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="k">The shared dimension.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="transposeA">A is stored as [k, m].</param>
    /// <param name="transposeB">B is stored as [n, k].</param>
    /// <param name="accumulate">Add to the output instead of overwriting it.</param>
    // AggressiveOptimization here and on the driver: tiered JIT otherwise runs these hot entry
    // points as unoptimized tier-0 code for the first ~100 ms, and a model load + short run never leaves it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int k, int n, bool transposeA = false, bool transposeB = false, bool accumulate = false)
    {
        Validate(a.Length, b.Length, c.Length, m, k, n);
        var isa = GemmIsaSelector.Current;
        var kernel = MicroKernel.For(isa);
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = c)
                // Tiny products with a transposed B skip packing (it would pad each row of B to a
                // 32-wide panel). A plain B is read in place by the driver at small m, which beats
                // the small path's axpys (those serialize through C's row when n is narrow).
                // A forced ISA means a test wants that kernel exercised, even on tiny shapes.
                if (transposeB && (long)m * n * k <= GemmSmall.MaxMacs
                    && GemmIsaSelector.ForcedIsa == GemmIsa.Auto)
                    GemmSmall.MultiplyTransposedB(pa, transposeA, pb, pc, m, k, n, accumulate);
                else
                    GemmDriver.Multiply(pa, transposeA, pb, transposeB, bPacked: false, pc, m, k, n, accumulate, kernel);
        }
    }

    /// <summary>C[m, n] (+)= A[m, k] · B where B was packed once (weights), in any storage type: 16-bit
    /// elements are widened to float32 in registers and every product is accumulated in float32.</summary>
    /// <param name="a">[m, k]</param>
    /// <param name="c">[m, n]</param>
    /// <param name="b">B [k, n], packed once by <see cref="PackedMatrix"/>'s Pack methods.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="accumulate">Add to the output instead of overwriting it.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, PackedMatrix b, Span<float> c, int m, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(b);
        Validate(a.Length, b.K * b.N, c.Length, m, b.K, b.N);
        // The kernel that matches the layout B was packed in, whatever the ISA knob says now.
        var kernel = MicroKernel.For(b.Isa, b.Dtype);
        unsafe
        {
            fixed (float* pa = a, pc = c)
            fixed (byte* pb = b.Panels)
                GemmDriver.Multiply(pa, false, pb, false, bPacked: true, pc, m, b.K, b.N, accumulate, kernel);
        }
    }

    /// <summary>c = a·b + bias (bias [n] added to every row). For big outputs such as the unembedding's logits
    /// the bias is added panel by panel while C is still in L1, saving a separate pass over c.</summary>
    internal static void MultiplyAddBias(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m)
    {
        ArgumentNullException.ThrowIfNull(b);
        Validate(a.Length, b.K * b.N, c.Length, m, b.K, b.N);
        if (bias.Length != b.N) throw new ArgumentException($"bias has {bias.Length} values for {b.N} columns");
        var kernel = MicroKernel.For(b.Isa, b.Dtype);
        unsafe
        {
            fixed (float* pa = a, pc = c, pbias = bias)
            fixed (byte* pb = b.Panels)
                GemmDriver.Multiply(pa, false, pb, false, bPacked: true, pc, m, b.K, b.N, false, kernel, pbias);
        }
    }

    /// <summary>Test knob: force one micro-kernel family (see <see cref="GemmIsaSelector.ForcedIsa"/>).</summary>
    internal static GemmIsa ForcedIsa
    {
        get => GemmIsaSelector.ForcedIsa;
        set => GemmIsaSelector.ForcedIsa = value;
    }

    internal static void Validate(int aLength, int bLength, int cLength, int m, int k, int n)
    {
        if (m < 0 || k < 0 || n < 0) throw new ArgumentException($"negative GEMM size m={m} k={k} n={n}");
        if (aLength < (long)m * k) throw new ArgumentException($"A has {aLength} elements, needs m*k = {(long)m * k}");
        if (bLength < (long)k * n) throw new ArgumentException($"B has {bLength} elements, needs k*n = {(long)k * n}");
        if (cLength < (long)m * n) throw new ArgumentException($"C has {cLength} elements, needs m*n = {(long)m * n}");
    }
}

/// <summary>The naive triple loop: the reference every fast kernel is tested against.</summary>
internal static class GemmReference
{
    // AggressiveOptimization here and on the driver: tiered JIT otherwise runs these hot entry
    // points as unoptimized tier-0 code for the first ~100 ms, and a model load + short run never leaves it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int k, int n, bool transposeA, bool transposeB, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[p * m + i] : a[i * k + p];
                    float bv = transposeB ? b[j * k + p] : b[p * n + j];
                    sum += av * bv;
                }
                c[i * n + j] = accumulate ? c[i * n + j] + (float)sum : (float)sum;
            }
    }
}
