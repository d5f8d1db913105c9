using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Tensors;

/// <summary>
/// Row-wise span kernels the model is built from, to the standard of <see cref="TensorPrimitives"/>: each public
/// method validates its spans (equal lengths, whole rows, destination long enough, no partial overlap) and throws
/// <see cref="ArgumentException"/> rather than truncating, then runs a vector main loop (Vector512/256/128, so ARM64
/// is vectorised too) and a scalar tail. NaN inputs propagate to the outputs they touch. The row kernels in this
/// file lean on <see cref="TensorPrimitives"/> for their vector loops; <c>Kernels.Short.cs</c> and
/// <c>Kernels.Gelu.cs</c> hold the hand-written ones.
/// </summary>
internal static partial class Kernels
{
    /// <summary>Effectively computes <c>x[r, c] += bias[c]</c> for every row r of the flat buffer.</summary>
    /// <param name="x">[rows, width] updated in place; its length must be a whole number of rows.</param>
    /// <param name="bias">[width], width ≥ 1; must not overlap <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException">bias empty while x is not, x not a whole number of rows, or the spans overlap.</exception>
    public static void AddBiasRows(Span<float> x, ReadOnlySpan<float> bias)
    {
        if (x.IsEmpty) return;
        if (bias.IsEmpty) throw new ArgumentException("Bias is empty but x is not; pass one bias value per column.", nameof(bias));
        KernelChecks.Rows(x.Length, bias.Length, nameof(x));
        if (x.Overlaps(bias)) throw new ArgumentException("Bias overlaps x; pass a separate bias buffer.", nameof(bias));
        int width = bias.Length;
        for (int off = 0; off < x.Length; off += width)
            TensorPrimitives.Add(x.Slice(off, width), bias, x.Slice(off, width));
    }

    /// <summary>
    /// TransformerLens LayerNorm: centre each row, scale = sqrt(mean(x²) + eps), normalized = x / scale,
    /// then (when <paramref name="weight"/> is given) normalized * w + b. With no weight this is LNPre (after fold_ln).
    /// </summary>
    /// <param name="x">[rows, width]</param>
    /// <param name="width">d_model, ≥ 1; x's length must be a whole number of rows.</param>
    /// <param name="eps">added to the mean square before the square root</param>
    /// <param name="scale">[rows] written: the hook_scale values (may be longer).</param>
    /// <param name="normalized">[rows, width] written (may be longer); may be <paramref name="x"/> itself, but must not
    /// partly overlap it.</param>
    /// <param name="weight">[width] or empty (not applied)</param>
    /// <param name="bias">[width] or empty (not applied)</param>
    /// <exception cref="ArgumentException">a span of the wrong length or a partial overlap.</exception>
    public static void LayerNorm(ReadOnlySpan<float> x, int width, float eps, Span<float> scale, Span<float> normalized,
        ReadOnlySpan<float> weight = default, ReadOnlySpan<float> bias = default)
    {
        int rows = KernelChecks.Rows(x.Length, width, nameof(x));
        KernelChecks.DestinationLongEnough(rows, scale.Length, nameof(scale));
        KernelChecks.DestinationLongEnough(x.Length, normalized.Length, nameof(normalized));
        KernelChecks.EmptyOrWidth(weight.Length, width, nameof(weight));
        KernelChecks.EmptyOrWidth(bias.Length, width, nameof(bias));
        if (x.Overlaps(normalized, out int offset) && offset != 0)
            throw new ArgumentException("normalized partly overlaps x; use the same buffer or separate ones.", nameof(normalized));
        for (int r = 0; r < rows; r++)
        {
            var src = x.Slice(r * width, width);
            var dst = normalized.Slice(r * width, width);
            float s = CentreAndScale(src, dst, eps);
            scale[r] = s;
            TensorPrimitives.Multiply(dst, 1f / s, dst);
            if (!weight.IsEmpty) TensorPrimitives.Multiply(dst, weight, dst);
            if (!bias.IsEmpty) TensorPrimitives.Add(dst, bias, dst);
        }
    }

    /// <summary>
    /// The LayerNorm statistics of one row, the single routine every forward, backward and patching shortcut uses:
    /// writes the centred row x - mean(x) to <paramref name="centred"/> (may be <paramref name="x"/> itself) and
    /// returns the scale sqrt(mean(centred²) + eps) (hook_scale).
    /// </summary>
    /// <param name="x">[width] one row</param>
    /// <param name="centred">[width] written</param>
    /// <param name="eps">added to the mean square before the square root</param>
    public static float CentreAndScale(ReadOnlySpan<float> x, Span<float> centred, float eps)
    {
        Centre(x, centred);
        return MathF.Sqrt(TensorPrimitives.SumOfSquares(centred[..x.Length]) / x.Length + eps);
    }

    /// <summary>x - mean(x) into <paramref name="centred"/> ([width], may be <paramref name="x"/> itself).</summary>
    public static void Centre(ReadOnlySpan<float> x, Span<float> centred)
    {
        if (centred.Length < x.Length) throw new ArgumentException($"centred has {centred.Length} elements but the row has {x.Length}", nameof(centred));
        TensorPrimitives.Subtract(x, TensorPrimitives.Sum(x) / x.Length, centred);
    }

    /// <summary>Softmax over each row in place; -inf entries get probability 0 (a row of only -inf gives NaN, as
    /// PyTorch does).</summary>
    /// <param name="x">[rows, width]</param>
    /// <param name="width">row length, ≥ 1; x's length must be a whole number of rows.</param>
    /// <exception cref="ArgumentException">x is not a whole number of rows.</exception>
    public static void SoftmaxRows(Span<float> x, int width)
    {
        KernelChecks.Rows(x.Length, width, nameof(x));
        for (int off = 0; off < x.Length; off += width) Softmax(x.Slice(off, width), x.Slice(off, width));
    }

    /// <summary>Effectively computes <c>y[i] = exp(x[i] - max(x)) / Σ_j exp(x[j] - max(x))</c>: the softmax of one
    /// row, shifted by its maximum so that large logits stay finite (<c>TensorPrimitives.SoftMax</c> does not shift).
    /// -inf entries get probability 0; a row of only -inf, or one holding NaN or +inf, gives NaN.</summary>
    /// <param name="x">[width], width ≥ 1</param>
    /// <param name="y">[width] the probabilities; may be <paramref name="x"/> itself, but must not partly overlap it.</param>
    /// <exception cref="ArgumentException">x is empty, y is shorter than x, or the spans partly overlap.</exception>
    public static void Softmax(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.IsEmpty) throw new ArgumentException("Softmax of an empty row is undefined; pass at least one value.", nameof(x));
        if (y.Length < x.Length) throw new ArgumentException($"y has {y.Length} elements but x has {x.Length}", nameof(y));
        y = y[..x.Length];
        if (x.Overlaps(y, out int offset) && offset != 0) throw new ArgumentException("x and y partly overlap; pass the same span or separate ones.", nameof(y));
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
    }
}
