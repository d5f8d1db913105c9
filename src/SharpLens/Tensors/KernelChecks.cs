namespace SharpLens.Tensors;

/// <summary>
/// The span checks every public kernel makes before touching memory, in the wording of
/// <c>System.Numerics.Tensors.TensorPrimitives</c>: mismatched lengths and short destinations throw
/// <see cref="ArgumentException"/> instead of being silently truncated.
/// </summary>
internal static class KernelChecks
{
    public static void SameLength(int expected, int actual, string param)
    {
        if (expected != actual)
            throw new ArgumentException($"Input span lengths differ ({actual} against {expected}); pass spans of equal length.", param);
    }

    public static void DestinationLongEnough(int needed, int actual, string param)
    {
        if (actual < needed)
            throw new ArgumentException($"Destination is too short ({actual} elements, {needed} needed).", param);
    }

    /// <summary>A flat [rows, width] buffer: width positive and the length a whole number of rows.</summary>
    public static int Rows(int length, int width, string param)
    {
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "Row width must be positive.");
        if (length % width != 0)
            throw new ArgumentException($"Length {length} is not a whole number of rows of width {width}.", param);
        return length / width;
    }

    /// <summary>An optional per-column vector (LayerNorm's w or b): empty, or exactly one row wide.</summary>
    public static void EmptyOrWidth(int length, int width, string param)
    {
        if (length != 0 && length != width)
            throw new ArgumentException($"Length {length} must be 0 (not applied) or the row width {width}.", param);
    }
}
