using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

/// <summary>
/// The widest vector a kernel's main loop may use. Kernels take <see cref="VectorWidthSelector.Best"/>; tests pass each
/// narrower width the CPU accelerates so that the Vector128 path (the one ARM64 runs) is checked on x64 too. Public so
/// that kernels outside the core library (the neuron index's statistics) choose their width the same way.
/// </summary>
public enum VectorWidth
{
    /// <summary>No vectors: the scalar twin of every kernel.</summary>
    Scalar = 0,
    /// <summary>128-bit vectors (SSE, ARM64 NEON).</summary>
    Vector128 = 128,
    /// <summary>256-bit vectors (AVX2).</summary>
    Vector256 = 256,
    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512 = 512,
}

/// <summary>Which <see cref="VectorWidth"/>s this CPU accelerates.</summary>
public static class VectorWidthSelector
{
    /// <summary>The widest width this CPU accelerates (read once; the JIT folds the comparisons against it).</summary>
    public static readonly VectorWidth Best =
        Vector512.IsHardwareAccelerated ? VectorWidth.Vector512
        : Vector256.IsHardwareAccelerated ? VectorWidth.Vector256
        : Vector128.IsHardwareAccelerated ? VectorWidth.Vector128
        : VectorWidth.Scalar;

    /// <summary>Whether a kernel may be run at <paramref name="width"/> on this CPU.</summary>
    public static bool IsAccelerated(VectorWidth width) => width <= Best;

    /// <summary>Every width this CPU can run, narrowest first (always includes <see cref="VectorWidth.Scalar"/>).</summary>
    public static IEnumerable<VectorWidth> Supported =>
        new[] { VectorWidth.Scalar, VectorWidth.Vector128, VectorWidth.Vector256, VectorWidth.Vector512 }.Where(IsAccelerated);
}
