using System.Runtime.Intrinsics;

namespace SharpLens.Tensors;

internal static partial class Kernels
{
    private const float GeluC = 0.7978845608028654f; // sqrt(2/pi)

    /// <summary>
    /// GPT-2's "gelu_new": effectively 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as the equal x / (1 + e^(-2u))
    /// with u = √(2/π)·(x + 0.044715·x³), in one fused vector pass (the generic Tanh made GELU a third of a forward pass).
    /// Relative error about 2e-7; large negative x gives -0, large positive x gives x; NaN gives NaN.
    /// </summary>
    /// <param name="x">[n]</param>
    /// <param name="y">[n] written (may be longer, may be <paramref name="x"/> itself).</param>
    /// <exception cref="ArgumentException"><paramref name="y"/> is shorter than <paramref name="x"/>.</exception>
    public static void GeluNew(ReadOnlySpan<float> x, Span<float> y) => GeluNew(x, y, VectorWidthSelector.Best);

    /// <summary><see cref="GeluNew(ReadOnlySpan{float}, Span{float})"/> with its vector loop capped at <paramref name="width"/>.</summary>
    internal static void GeluNew(ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        KernelChecks.DestinationLongEnough(x.Length, y.Length, nameof(y));
        if (x.Overlaps(y, out int offset) && offset != 0)
            throw new ArgumentException("y partly overlaps x; use the same buffer or separate ones.", nameof(y));
        int i = 0;
        if (width >= VectorWidth.Vector512)
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
                GeluNew(Vector512.Create(x.Slice(i, Vector512<float>.Count))).CopyTo(y.Slice(i));
        if (width >= VectorWidth.Vector256)
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                GeluNew(Vector256.Create(x.Slice(i, Vector256<float>.Count))).CopyTo(y.Slice(i));
        if (width >= VectorWidth.Vector128)
            for (; i <= x.Length - Vector128<float>.Count; i += Vector128<float>.Count)
                GeluNew(Vector128.Create(x.Slice(i, Vector128<float>.Count))).CopyTo(y.Slice(i));
        for (; i < x.Length; i++) y[i] = GeluNewScalar(x[i]);
    }

    internal static float GeluNewScalar(float x)
    {
        float u = GeluC * (x + 0.044715f * x * x * x);
        return x / (1f + MathF.Exp(MathF.Min(-2f * u, 88f)));
    }

    /// <summary>Derivative of <see cref="GeluNew(ReadOnlySpan{float}, Span{float})"/> at <paramref name="x"/>, for backward passes.</summary>
    public static float GeluNewGrad(float x)
    {
        float inner = GeluC * (x + 0.044715f * x * x * x);
        float t = MathF.Tanh(inner);
        return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * GeluC * (1 + 3 * 0.044715f * x * x);
    }

    /// <summary>
    /// dx = dy ∘ gelu_new'(x), the MLP's backward step, in one vector pass: with s = 1 / (1 + e^(-2u)) (= ½(1 + tanh u)),
    /// gelu_new'(x) = s + 2·x·s·(1 − s)·√(2/π)·(1 + 3·0.044715·x²), the same derivative as <see cref="GeluNewGrad"/>
    /// (which goes through MathF.Tanh) to about 1e-6 relative (KernelTests check them against each other). x is
    /// clamped to ±100 in the second term: beyond that the term is 0 to float precision (s·(1 − s) underflows), and the
    /// clamp keeps a huge finite input from making 0·∞ = NaN or, through the clamped exponential, a spurious tail.
    /// </summary>
    /// <param name="x">the activation's input [n]</param>
    /// <param name="dy">d/d its output [n]</param>
    /// <param name="dx">[n] written (may be <paramref name="dy"/> itself)</param>
    internal static void MultiplyGeluNewGrad(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        MultiplyGeluNewGrad(x, dy, dx, VectorWidthSelector.Best);

    /// <summary><see cref="MultiplyGeluNewGrad(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> with its vector loop capped at <paramref name="width"/>.</summary>
    internal static void MultiplyGeluNewGrad(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, VectorWidth width)
    {
        KernelChecks.DestinationLongEnough(x.Length, dx.Length, nameof(dx));
        KernelChecks.DestinationLongEnough(x.Length, dy.Length, nameof(dy));
        int i = 0;
        if (width >= VectorWidth.Vector512)
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var v = Vector512.Create(x.Slice(i, Vector512<float>.Count));
                var u = v * (Vector512.Create(1f) + Vector512.Create(0.044715f) * v * v) * Vector512.Create(GeluC);
                var s = Vector512.Create(1f) / (Vector512.Create(1f) + ExpApprox(Vector512.Min(u * Vector512.Create(-2f), Vector512.Create(88f))));
                var c = Vector512.Clamp(v, Vector512.Create(-100f), Vector512.Create(100f));
                var slope = Vector512.Create(2 * GeluC) * (Vector512.Create(1f) + Vector512.Create(3 * 0.044715f) * c * c);
                (Vector512.Create(dy.Slice(i, Vector512<float>.Count)) * (s + c * s * (Vector512.Create(1f) - s) * slope)).CopyTo(dx.Slice(i));
            }
        if (width >= VectorWidth.Vector256)
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.Create(x.Slice(i, Vector256<float>.Count));
                var u = v * (Vector256.Create(1f) + Vector256.Create(0.044715f) * v * v) * Vector256.Create(GeluC);
                var s = Vector256.Create(1f) / (Vector256.Create(1f) + ExpApprox(Vector256.Min(u * Vector256.Create(-2f), Vector256.Create(88f))));
                var c = Vector256.Clamp(v, Vector256.Create(-100f), Vector256.Create(100f));
                var slope = Vector256.Create(2 * GeluC) * (Vector256.Create(1f) + Vector256.Create(3 * 0.044715f) * c * c);
                (Vector256.Create(dy.Slice(i, Vector256<float>.Count)) * (s + c * s * (Vector256.Create(1f) - s) * slope)).CopyTo(dx.Slice(i));
            }
        if (width >= VectorWidth.Vector128)
            for (; i <= x.Length - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                var v = Vector128.Create(x.Slice(i, Vector128<float>.Count));
                var u = v * (Vector128.Create(1f) + Vector128.Create(0.044715f) * v * v) * Vector128.Create(GeluC);
                var s = Vector128.Create(1f) / (Vector128.Create(1f) + ExpApprox(Vector128.Min(u * Vector128.Create(-2f), Vector128.Create(88f))));
                var c = Vector128.Clamp(v, Vector128.Create(-100f), Vector128.Create(100f));
                var slope = Vector128.Create(2 * GeluC) * (Vector128.Create(1f) + Vector128.Create(3 * 0.044715f) * c * c);
                (Vector128.Create(dy.Slice(i, Vector128<float>.Count)) * (s + c * s * (Vector128.Create(1f) - s) * slope)).CopyTo(dx.Slice(i));
            }
        for (; i < x.Length; i++)
        {
            float v = x[i], u = GeluC * (v + 0.044715f * v * v * v);
            float s = 1f / (1f + MathF.Exp(MathF.Min(-2f * u, 88f)));
            float c = Math.Clamp(v, -100f, 100f);
            dx[i] = dy[i] * (s + c * s * (1 - s) * 2 * GeluC * (1 + 3 * 0.044715f * c * c));
        }
    }

    private static Vector512<float> GeluNew(Vector512<float> x)
    {
        var u = x * (Vector512.Create(1f) + Vector512.Create(0.044715f) * x * x) * Vector512.Create(GeluC);
        var e = ExpApprox(Vector512.Min(u * Vector512.Create(-2f), Vector512.Create(88f)));
        return x / (Vector512.Create(1f) + e);
    }

    private static Vector256<float> GeluNew(Vector256<float> x)
    {
        var u = x * (Vector256.Create(1f) + Vector256.Create(0.044715f) * x * x) * Vector256.Create(GeluC);
        var e = ExpApprox(Vector256.Min(u * Vector256.Create(-2f), Vector256.Create(88f)));
        return x / (Vector256.Create(1f) + e);
    }

    private static Vector128<float> GeluNew(Vector128<float> x)
    {
        var u = x * (Vector128.Create(1f) + Vector128.Create(0.044715f) * x * x) * Vector128.Create(GeluC);
        var e = ExpApprox(Vector128.Min(u * Vector128.Create(-2f), Vector128.Create(88f)));
        return x / (Vector128.Create(1f) + e);
    }

    // e^t for t ≤ 88: t = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness), e^r by its degree-6 Taylor
    // polynomial (error ~1e-7 relative), 2^n by writing the exponent bits. Below -87 the result flushes to 0.
    // The three widths are the same arithmetic; .NET has no width-generic vector type to write it once.
    private static Vector512<float> ExpApprox(Vector512<float> t)
    {
        t = Vector512.Max(t, Vector512.Create(-87f));
        var n = Vector512.Round(t * Vector512.Create(1.4426950408889634f));
        var r = t - n * Vector512.Create(0.693145751953125f) - n * Vector512.Create(1.428606765330187e-06f);
        var p = Vector512.Create(1f / 720);
        p = p * r + Vector512.Create(1f / 120);
        p = p * r + Vector512.Create(1f / 24);
        p = p * r + Vector512.Create(1f / 6);
        p = p * r + Vector512.Create(0.5f);
        p = p * r + Vector512.Create(1f);
        p = p * r + Vector512.Create(1f);
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    private static Vector256<float> ExpApprox(Vector256<float> t)
    {
        t = Vector256.Max(t, Vector256.Create(-87f));
        var n = Vector256.Round(t * Vector256.Create(1.4426950408889634f));
        var r = t - n * Vector256.Create(0.693145751953125f) - n * Vector256.Create(1.428606765330187e-06f);
        var p = Vector256.Create(1f / 720);
        p = p * r + Vector256.Create(1f / 120);
        p = p * r + Vector256.Create(1f / 24);
        p = p * r + Vector256.Create(1f / 6);
        p = p * r + Vector256.Create(0.5f);
        p = p * r + Vector256.Create(1f);
        p = p * r + Vector256.Create(1f);
        var scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    private static Vector128<float> ExpApprox(Vector128<float> t)
    {
        t = Vector128.Max(t, Vector128.Create(-87f));
        var n = Vector128.Round(t * Vector128.Create(1.4426950408889634f));
        var r = t - n * Vector128.Create(0.693145751953125f) - n * Vector128.Create(1.428606765330187e-06f);
        var p = Vector128.Create(1f / 720);
        p = p * r + Vector128.Create(1f / 120);
        p = p * r + Vector128.Create(1f / 24);
        p = p * r + Vector128.Create(1f / 6);
        p = p * r + Vector128.Create(0.5f);
        p = p * r + Vector128.Create(1f);
        p = p * r + Vector128.Create(1f);
        var scale = (Vector128.ConvertToInt32(n) + Vector128.Create(127)) << 23;
        return p * scale.AsSingle();
    }
}
