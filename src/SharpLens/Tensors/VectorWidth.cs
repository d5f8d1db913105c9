using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

/// <summary>
/// The widest vector a kernel's main loop may use. Public kernels take <see cref="VectorWidthSelector.Best"/>;
/// tests pass each narrower width the CPU accelerates so that the Vector128 path (the one ARM64 runs) is checked on
/// x64 too.
/// </summary>
internal enum VectorWidth
{
    Scalar = 0,
    Vector128 = 128,
    Vector256 = 256,
    Vector512 = 512,
}

internal static class VectorWidthSelector
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
