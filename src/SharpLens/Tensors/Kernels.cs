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

    /// <summary>GPT-2's "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static void GeluNew(ReadOnlySpan<float> x, Span<float> y)
    {
        const float c = 0.7978845608028654f; // sqrt(2/pi)
        const int chunk = 1024;
        Span<float> t = stackalloc float[chunk];
        for (int off = 0; off < x.Length; off += chunk)
        {
            int n = Math.Min(chunk, x.Length - off);
            var xs = x.Slice(off, n);
            var ts = t[..n];
            TensorPrimitives.Multiply(xs, xs, ts);            // x²
            TensorPrimitives.Multiply(ts, 0.044715f, ts);
            TensorPrimitives.Add(ts, 1f, ts);                 // 1 + 0.044715x²
            TensorPrimitives.Multiply(ts, xs, ts);            // x + 0.044715x³
            TensorPrimitives.Multiply(ts, c, ts);
            TensorPrimitives.Tanh(ts, ts);
            TensorPrimitives.Add(ts, 1f, ts);
            TensorPrimitives.Multiply(ts, xs, ts);
            TensorPrimitives.Multiply(ts, 0.5f, y.Slice(off, n));
        }
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
