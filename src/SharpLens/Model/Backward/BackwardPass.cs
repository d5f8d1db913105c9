using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Model.Backward;

/// <summary>
/// One backward pass as the components see it: the forward cache they read their activations from, the hook gradients
/// they report (<see cref="Put"/>, kept only when asked for) and the parameter gradients they accumulate (null: none).
/// </summary>
internal sealed class BackwardPass(ActivationCache cache, GradientCache grads, Func<string, bool> keep, ParameterGradients? parameters)
{
    /// <summary>The hook gradients this pass returns.</summary>
    public GradientCache Grads { get; } = grads;

    /// <summary>Where parameter gradients accumulate, or null when none are wanted.</summary>
    public ParameterGradients? Parameters { get; } = parameters;

    /// <summary>Whether the gradient of hook <paramref name="name"/> is returned (so worth building when optional).</summary>
    public bool Keeps(string name) => keep(name);

    /// <summary>Records d/d <paramref name="name"/> when it is kept.</summary>
    public void Put(string name, Tensor gradient)
    {
        if (keep(name)) Grads.Set(name, gradient);
    }

    /// <summary>A forward activation the backward pass needs; an error naming it when the cache lacks it.</summary>
    public Tensor Require(string name) => cache.TryGet(name, out var t) ? t
        : throw new InvalidInputException($"the backward pass needs '{name}' in the forward cache: cache model.BackwardHooks(...)");

    /// <summary>The accumulator of parameter <paramref name="name"/> [shape], or null when it is not wanted.</summary>
    public Tensor? Parameter(string name, params int[] shape) => Parameters?.For(name, shape);

    /// <summary>acc[j] += Σ_r rows[r, j]: the gradient of a bias added to every row.</summary>
    /// <param name="rows">[count, width]</param>
    /// <param name="acc">[width] added to</param>
    public static void AddColumnSums(ReadOnlySpan<float> rows, Span<float> acc)
    {
        int width = acc.Length;
        for (int off = 0; off < rows.Length; off += width) TensorPrimitives.Add(acc, rows.Slice(off, width), acc);
    }

    /// <summary>acc += aᵀ·b for a [rows, m] and b [rows, n]: the gradient of a weight [m, n] that maps a's rows to b's.</summary>
    /// <param name="a">the layer's input [rows, m]</param>
    /// <param name="b">the gradient of its output [rows, n]</param>
    /// <param name="acc">[m, n] added to</param>
    /// <param name="rows">number of rows</param>
    public static void AddWeightGradient(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> acc, int rows)
    {
        int m = a.Length / Math.Max(1, rows), n = b.Length / Math.Max(1, rows);
        Gemm.Multiply(a, b, acc, m, rows, n, transposeA: true, accumulate: true);
    }
}
