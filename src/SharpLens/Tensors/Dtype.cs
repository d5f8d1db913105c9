using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SharpLens.Tensors;

/// <summary>
/// How a weight matrix stores its elements. Arithmetic is always float32: a 16-bit matrix is widened to
/// float32 in registers as it is read, so it costs half the memory and half the bytes per pass.
/// </summary>
internal enum Dtype
{
    /// <summary>IEEE float32, 4 bytes per element.</summary>
    F32 = 0,
    /// <summary>bfloat16 (float32's top 16 bits: 8-bit exponent, 7-bit mantissa), 2 bytes per element.</summary>
    BF16,
    /// <summary>IEEE float16 (5-bit exponent, 10-bit mantissa), 2 bytes per element.</summary>
    F16,
}

/// <summary>Element conversions between float32 and the 16-bit storage types, one value at a time.</summary>
internal static class HalfBits
{
    /// <summary>Bytes per stored element of <paramref name="dtype"/>.</summary>
    public static int Size(Dtype dtype) => dtype == Dtype.F32 ? 4 : 2;

    /// <summary>The float32 value of 16-bit <paramref name="bits"/> (exact: both types widen losslessly).</summary>
    public static float ToSingle(ushort bits, Dtype dtype) => dtype switch
    {
        Dtype.BF16 => BitConverter.UInt32BitsToSingle((uint)bits << 16),
        Dtype.F16 => (float)BitConverter.UInt16BitsToHalf(bits),
        _ => throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype)),
    };

    /// <summary>The float32 values of the 16-bit <paramref name="source"/> into <paramref name="destination"/> (same length).</summary>
    public static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination, Dtype dtype)
    {
        if (destination.Length < source.Length) throw new ArgumentException("destination is shorter than source", nameof(destination));
        switch (dtype)
        {
            case Dtype.BF16: // the bf16 bits are the high half of the float32 bits
                var bits = MemoryMarshal.Cast<float, uint>(destination);
                for (int i = 0; i < source.Length; i++) bits[i] = (uint)source[i] << 16;
                break;
            case Dtype.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(source), destination);
                break;
            default:
                throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype));
        }
    }

    /// <summary><paramref name="value"/> rounded to the nearest <paramref name="dtype"/> (ties to even; NaN stays NaN).</summary>
    public static ushort FromSingle(float value, Dtype dtype)
    {
        switch (dtype)
        {
            case Dtype.BF16:
                uint bits = BitConverter.SingleToUInt32Bits(value);
                if ((bits & 0x7FFFFFFF) > 0x7F800000) return (ushort)((bits >> 16) | 0x0040);
                return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
            case Dtype.F16:
                return BitConverter.HalfToUInt16Bits((Half)value);
            default:
                throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype));
        }
    }

    /// <summary>Whether float16 <paramref name="bits"/> are ±infinity or NaN (exponent all ones).</summary>
    public static bool IsF16NonFinite(ushort bits) => (bits & 0x7C00) == 0x7C00;
}
