using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Tensors;

/// <summary>
/// Row-wise span kernels the model is built from. Each works on a flat row-major buffer of
/// <c>rows x width</c> and leans on <see cref="TensorPrimitives"/> for the vector loops.
/// </summary>
public static class Kernels
{
    /// <summary>x[r, :] += bias for every row.</summary>
    /// <param name="x">[rows, width]</param>
    /// <param name="bias">[width]</param>
    public static void AddBiasRows(Span<float> x, ReadOnlySpan<float> bias)
    {
        int width = bias.Length;
        for (int off = 0; off < x.Length; off += width)
            TensorPrimitives.Add(x.Slice(off, width), bias, x.Slice(off, width));
    }

    /// <summary>
    /// TransformerLens LayerNorm: centre each row, scale = sqrt(mean(x²) + eps), normalized = x / scale,
    /// then (when <paramref name="weight"/> is given) normalized * w + b. With no weight this is LNPre (after fold_ln).
    /// </summary>
    /// <param name="x">[rows, width]</param>
    /// <param name="scale">[rows] written: the hook_scale values</param>
    /// <param name="normalized">[rows, width] written</param>
    public static void LayerNorm(ReadOnlySpan<float> x, int width, float eps, Span<float> scale, Span<float> normalized,
        ReadOnlySpan<float> weight = default, ReadOnlySpan<float> bias = default)
    {
        int rows = x.Length / width;
        for (int r = 0; r < rows; r++)
        {
            var src = x.Slice(r * width, width);
            var dst = normalized.Slice(r * width, width);
            float mean = TensorPrimitives.Sum(src) / width;
            TensorPrimitives.Subtract(src, mean, dst);
            float s = MathF.Sqrt(TensorPrimitives.SumOfSquares(dst) / width + eps);
            scale[r] = s;
            TensorPrimitives.Multiply(dst, 1f / s, dst);
            if (!weight.IsEmpty) TensorPrimitives.Multiply(dst, weight, dst);
            if (!bias.IsEmpty) TensorPrimitives.Add(dst, bias, dst);
        }
    }

    /// <summary>
    /// GPT-2's "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as the equal x / (1 + e^(-2u)) with
    /// u = √(2/π)·(x + 0.044715·x³), in one fused vector pass (the generic Tanh made GELU a third of a forward pass).
    /// Relative error about 2e-7; large negative x gives -0, large positive x gives x.
    /// </summary>
    public static void GeluNew(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("output shorter than input", nameof(y));
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
                GeluNew(Vector512.Create(x.Slice(i, Vector512<float>.Count))).CopyTo(y.Slice(i));
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                GeluNew(Vector256.Create(x.Slice(i, Vector256<float>.Count))).CopyTo(y.Slice(i));
        for (; i < x.Length; i++) y[i] = GeluNewScalar(x[i]);
    }

    private const float GeluC = 0.7978845608028654f; // sqrt(2/pi)

    internal static float GeluNewScalar(float x)
    {
        float u = GeluC * (x + 0.044715f * x * x * x);
        return x / (1f + MathF.Exp(MathF.Min(-2f * u, 88f)));
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

    // e^t for t ≤ 88: t = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness), e^r by its degree-6 Taylor
    // polynomial (error ~1e-7 relative), 2^n by writing the exponent bits. Below -87 the result flushes to 0.
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

    /// <summary>Σ a[i]·b[i] for short vectors (a head's d_head): a plain vector loop, since per-call overhead dominates
    /// at these lengths (attention makes thousands of such calls per layer).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static float DotShort(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref float ra = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        ref float rb = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b);
        int n = Math.Min(a.Length, b.Length), i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc += Vector512.LoadUnsafe(ref ra, (nuint)i) * Vector512.LoadUnsafe(ref rb, (nuint)i);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.LoadUnsafe(ref ra, (nuint)i) * Vector256.LoadUnsafe(ref rb, (nuint)i);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y[i] += alpha·x[i] for short vectors (see <see cref="DotShort"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static void AxpyShort(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        ref float rx = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float ry = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        int n = Math.Min(x.Length, y.Length), i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref ry, (nuint)i) + va * Vector512.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref ry, (nuint)i) + va * Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    /// <summary>Derivative of <see cref="GeluNew"/>, for backward passes.</summary>
    public static float GeluNewGrad(float x)
    {
        const float c = 0.7978845608028654f;
        float inner = c * (x + 0.044715f * x * x * x);
        float t = MathF.Tanh(inner);
        return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * c * (1 + 3 * 0.044715f * x * x);
    }

    /// <summary>Softmax over each row in place; -inf entries get probability 0.</summary>
    /// <param name="x">[rows, width]</param>
    public static void SoftmaxRows(Span<float> x, int width)
    {
        for (int off = 0; off < x.Length; off += width)
        {
            var row = x.Slice(off, width);
            float max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp(row, row);
            TensorPrimitives.Divide(row, TensorPrimitives.Sum(row), row);
        }
    }
}
