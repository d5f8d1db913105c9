using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

/// <summary>
/// How a micro-kernel reads one depth row of a B panel (NR values) as float32 vectors: the only place the
/// kernels differ by storage type. Each kernel family is generic over it, so the JIT compiles one
/// specialised kernel per (family, type) with the conversion inlined into the FMA loop.
/// </summary>
/// <remarks>
/// 16-bit panels use the <em>paired</em> layout: 32-bit word i of a row holds column i in its low half and
/// column i + NR/2 in its high half. Widening then takes one shift (low half) or one mask (high half) per
/// vector and never crosses lanes, where a plain layout would need a zero-extending shuffle per vector.
/// </remarks>
internal unsafe interface IPanelRow
{
    /// <summary>Bytes per element (4 or 2).</summary>
    static abstract int ElementSize { get; }

    /// <summary>Columns 0..15 and 16..31 of a 32-wide row.</summary>
    static abstract void Load(byte* row, out Vector512<float> b0, out Vector512<float> b1);

    /// <summary>Columns 0..7 and 8..15 of a 16-wide row.</summary>
    static abstract void Load(byte* row, out Vector256<float> b0, out Vector256<float> b1);

    /// <summary>Columns 0..3 and 4..7 of an 8-wide row.</summary>
    static abstract void Load(byte* row, out Vector128<float> b0, out Vector128<float> b1);

    /// <summary>Columns 0..3 of a 4-wide row.</summary>
    static abstract void Load(byte* row, out float b0, out float b1, out float b2, out float b3);
}

/// <summary>float32 panels: plain contiguous rows.</summary>
internal readonly unsafe struct F32Row : IPanelRow
{
    public static int ElementSize => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector512<float> b0, out Vector512<float> b1)
    {
        b0 = Vector512.Load((float*)row);
        b1 = Vector512.Load((float*)row + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector256<float> b0, out Vector256<float> b1)
    {
        b0 = Vector256.Load((float*)row);
        b1 = Vector256.Load((float*)row + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector128<float> b0, out Vector128<float> b1)
    {
        b0 = Vector128.Load((float*)row);
        b1 = Vector128.Load((float*)row + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out float b0, out float b1, out float b2, out float b3)
    {
        var r = (float*)row;
        b0 = r[0]; b1 = r[1]; b2 = r[2]; b3 = r[3];
    }
}

/// <summary>bfloat16 panels (paired layout): a bf16 value is the top half of its float32, so widening is a shift or a mask.</summary>
internal readonly unsafe struct Bf16Row : IPanelRow
{
    private const uint High = 0xFFFF0000;

    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector512<float> b0, out Vector512<float> b1)
    {
        var x = Vector512.Load((uint*)row);
        b0 = (x << 16).AsSingle();
        b1 = (x & Vector512.Create(High)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector256<float> b0, out Vector256<float> b1)
    {
        var x = Vector256.Load((uint*)row);
        b0 = (x << 16).AsSingle();
        b1 = (x & Vector256.Create(High)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector128<float> b0, out Vector128<float> b1)
    {
        var x = Vector128.Load((uint*)row);
        b0 = (x << 16).AsSingle();
        b1 = (x & Vector128.Create(High)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out float b0, out float b1, out float b2, out float b3)
    {
        uint w0 = ((uint*)row)[0], w1 = ((uint*)row)[1];
        b0 = BitConverter.UInt32BitsToSingle(w0 << 16); b1 = BitConverter.UInt32BitsToSingle(w1 << 16);
        b2 = BitConverter.UInt32BitsToSingle(w0 & High); b3 = BitConverter.UInt32BitsToSingle(w1 & High);
    }
}

/// <summary>
/// float16 panels (paired layout), finite values only (<see cref="PackedMatrix"/> keeps a matrix with ±inf or
/// NaN in float32). With the half in a word's top 16 bits, an arithmetic shift right by 3 puts its exponent and
/// mantissa where float32 keeps them (sign copied into bits 31..28, cleared by the mask except bit 31); the result
/// is the float32 value scaled by 2^-112, which one multiply by 2^112 undoes exactly, subnormal halves included.
/// </summary>
internal readonly unsafe struct F16Row : IPanelRow
{
    private const int Mask = unchecked((int)0x8FFFE000);
    private const float Rebias = 5.192296858534828e33f; // 2^112

    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector512<float> b0, out Vector512<float> b1)
    {
        var x = Vector512.Load((int*)row);
        b0 = (Vector512.ShiftRightArithmetic(x << 16, 3) & Vector512.Create(Mask)).AsSingle() * Vector512.Create(Rebias);
        b1 = (Vector512.ShiftRightArithmetic(x, 3) & Vector512.Create(Mask)).AsSingle() * Vector512.Create(Rebias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector256<float> b0, out Vector256<float> b1)
    {
        var x = Vector256.Load((int*)row);
        b0 = (Vector256.ShiftRightArithmetic(x << 16, 3) & Vector256.Create(Mask)).AsSingle() * Vector256.Create(Rebias);
        b1 = (Vector256.ShiftRightArithmetic(x, 3) & Vector256.Create(Mask)).AsSingle() * Vector256.Create(Rebias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out Vector128<float> b0, out Vector128<float> b1)
    {
        var x = Vector128.Load((int*)row);
        b0 = (Vector128.ShiftRightArithmetic(x << 16, 3) & Vector128.Create(Mask)).AsSingle() * Vector128.Create(Rebias);
        b1 = (Vector128.ShiftRightArithmetic(x, 3) & Vector128.Create(Mask)).AsSingle() * Vector128.Create(Rebias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* row, out float b0, out float b1, out float b2, out float b3)
    {
        int w0 = ((int*)row)[0], w1 = ((int*)row)[1];
        b0 = Widen(w0 << 16); b1 = Widen(w1 << 16);
        b2 = Widen(w0); b3 = Widen(w1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Widen(int top) => BitConverter.Int32BitsToSingle((top >> 3) & Mask) * Rebias;
}
