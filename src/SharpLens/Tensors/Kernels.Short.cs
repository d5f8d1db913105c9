using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

internal static partial class Kernels
{
    /// <summary>
    /// Effectively computes Σ a[i]·b[i] for short vectors (a head's d_head): a hand-written vector loop, since
    /// per-call overhead dominates at these lengths (attention makes thousands of such calls per layer).
    /// Summation order differs from a plain loop (vector lanes first), so results may differ in the last bits.
    /// </summary>
    /// <param name="a">[n]</param>
    /// <param name="b">[n], the same length as <paramref name="a"/>.</param>
    /// <exception cref="ArgumentException">the lengths differ.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float DotShort(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => DotShort(a, b, VectorWidthSelector.Best);

    /// <summary><see cref="DotShort(ReadOnlySpan{float}, ReadOnlySpan{float})"/> with its vector loops capped at
    /// <paramref name="width"/> (tests drive each path; the caller guarantees the CPU accelerates it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float DotShort(ReadOnlySpan<float> a, ReadOnlySpan<float> b, VectorWidth width)
    {
        KernelChecks.SameLength(a.Length, b.Length, nameof(b));
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        int n = a.Length, i = 0;
        float sum = 0;
        if (width >= VectorWidth.Vector512 && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc += Vector512.LoadUnsafe(ref ra, (nuint)i) * Vector512.LoadUnsafe(ref rb, (nuint)i);
            sum = Vector512.Sum(acc);
        }
        if (width >= VectorWidth.Vector256 && n - i >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.LoadUnsafe(ref ra, (nuint)i) * Vector256.LoadUnsafe(ref rb, (nuint)i);
            sum += Vector256.Sum(acc);
        }
        if (width >= VectorWidth.Vector128 && n - i >= 4)
        {
            var acc = Vector128<float>.Zero;
            for (; i <= n - 4; i += 4) acc += Vector128.LoadUnsafe(ref ra, (nuint)i) * Vector128.LoadUnsafe(ref rb, (nuint)i);
            sum += Vector128.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref ra, i) * Unsafe.Add(ref rb, i);
        return sum;
    }

    /// <summary>Effectively computes y[i] += alpha·x[i] for short vectors (see <see cref="DotShort(ReadOnlySpan{float}, ReadOnlySpan{float})"/>).</summary>
    /// <param name="alpha">the scale of x</param>
    /// <param name="x">[n]; may be <paramref name="y"/> itself but must not partly overlap it.</param>
    /// <param name="y">[n] updated in place, the same length as <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException">the lengths differ or the spans partly overlap.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AxpyShort(float alpha, ReadOnlySpan<float> x, Span<float> y) => AxpyShort(alpha, x, y, VectorWidthSelector.Best);

    /// <summary><see cref="AxpyShort(float, ReadOnlySpan{float}, Span{float})"/> with its vector loops capped at
    /// <paramref name="width"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AxpyShort(float alpha, ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        KernelChecks.SameLength(x.Length, y.Length, nameof(y));
        if (x.Overlaps(y, out int offset) && offset != 0)
            throw new ArgumentException("y partly overlaps x; use the same buffer or separate ones.", nameof(y));
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (width >= VectorWidth.Vector512)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref ry, (nuint)i) + va * Vector512.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        if (width >= VectorWidth.Vector256)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref ry, (nuint)i) + va * Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        if (width >= VectorWidth.Vector128)
        {
            var va = Vector128.Create(alpha);
            for (; i <= n - 4; i += 4)
                (Vector128.LoadUnsafe(ref ry, (nuint)i) + va * Vector128.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref ry, i) += alpha * Unsafe.Add(ref rx, i);
    }
}
