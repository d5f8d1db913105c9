using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpLens.Tensors;

/// <summary>Which micro-kernel family runs the GEMM. Ordered from narrowest to widest.</summary>
internal enum GemmIsa
{
    /// <summary>Pick the widest one the CPU accelerates.</summary>
    Auto = 0,
    Scalar,
    Vector128,
    Avx2,
    Avx512,
}

internal static class GemmIsaSelector
{
    // Per logical call context, so a test forcing a kernel family cannot change the kernels (and so the last bits of
    // the results) of other tests running at the same time in the same process.
    private static readonly AsyncLocal<GemmIsa> Forced = new();

    /// <summary>
    /// Tests set this to drive the narrower kernels on a machine that would never pick them; it holds for the calling
    /// thread and the tasks it starts (an <see cref="AsyncLocal{T}"/>), never for other callers.
    /// Read once per call (and once per packing of a <see cref="PackedMatrix"/>), so a packed matrix keeps
    /// the layout of the kernel it was packed for even if the knob changes later.
    /// </summary>
    internal static GemmIsa ForcedIsa { get => Forced.Value; set => Forced.Value = value; }

    public static GemmIsa Best { get; } =
        Avx512F.IsSupported ? GemmIsa.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? GemmIsa.Avx2
        : Vector128.IsHardwareAccelerated ? GemmIsa.Vector128
        : GemmIsa.Scalar;

    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Auto or GemmIsa.Scalar => true,
        GemmIsa.Vector128 => Vector128.IsHardwareAccelerated,
        GemmIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        GemmIsa.Avx512 => Avx512F.IsSupported,
        _ => false,
    };

    public static GemmIsa Current
    {
        get
        {
            var forced = ForcedIsa;
            if (forced == GemmIsa.Auto) return Best;
            if (!IsSupported(forced)) throw new NotSupportedException($"GEMM ISA {forced} is not supported on this CPU");
            return forced;
        }
    }
}
