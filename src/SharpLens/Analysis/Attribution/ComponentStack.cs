using SharpLens.Tensors;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// Residual-stream components read at one position per prompt, each with its label (TransformerLens'
/// (stack, labels) pair from return_labels=True).
/// </summary>
public sealed class ComponentStack
{
    /// <summary>A stack of <paramref name="values"/> [components, batch, d_model] with one label per component and the
    /// position each prompt was read at ([batch]); <paramref name="lnScaleHook"/> names the LayerNorm scale applied, if any.</summary>
    public ComponentStack(Tensor values, IReadOnlyList<string> labels, int[] positions, string? lnScaleHook = null)
    {
        if (values.Rank != 3) throw new ShapeMismatchException($"a component stack must be [components, batch, d_model], got {values.ShapeString}");
        if (values.Dim(0) != labels.Count)
            throw new ShapeMismatchException($"stack {values.ShapeString} has {values.Dim(0)} components but {labels.Count} labels");
        if (values.Dim(1) != positions.Length)
            throw new ShapeMismatchException($"stack {values.ShapeString} has {values.Dim(1)} prompts but {positions.Length} positions");
        Values = values; Labels = labels; Positions = positions; LnScaleHook = lnScaleHook;
    }

    /// <summary>[components, batch, d_model]</summary>
    public Tensor Values { get; }
    /// <summary>One label per component, e.g. "0_pre", "3_attn_out", "L9H6", "L8N2744".</summary>
    public IReadOnlyList<string> Labels { get; }
    /// <summary>The position each prompt was read at.</summary>
    public int[] Positions { get; }
    /// <summary>Null for raw residual directions; otherwise the hook_scale the stack was centred and divided by (see ApplyLnToStack).</summary>
    public string? LnScaleHook { get; }

    /// <summary>Number of components (first axis of <see cref="Values"/>).</summary>
    public int Components => Values.Dim(0);
    /// <summary>Number of prompts (second axis).</summary>
    public int Batch => Values.Dim(1);
    /// <summary>Residual width d_model (last axis).</summary>
    public int DModel => Values.Dim(2);

    /// <summary>Component <paramref name="c"/> of prompt <paramref name="b"/>: [d_model].</summary>
    public Span<float> Row(int c, int b) => Values.Data.AsSpan((c * Batch + b) * DModel, DModel);

    /// <summary>Index of the component labelled <paramref name="label"/>.</summary>
    public int IndexOf(string label)
    {
        for (int i = 0; i < Labels.Count; i++) if (Labels[i] == label) return i;
        throw new InvalidInputException($"no component labelled '{label}' (labels: {string.Join(", ", Labels.Take(8))}{(Labels.Count > 8 ? ", ..." : "")})");
    }

    /// <summary>Sum over components: [batch, d_model].</summary>
    public Tensor Sum()
    {
        var sum = Tensor.Zeros(Batch, DModel);
        for (int c = 0; c < Components; c++)
            System.Numerics.Tensors.TensorPrimitives.Add(sum.Data, Values.Data.AsSpan(c * Batch * DModel, Batch * DModel), sum.Data);
        return sum;
    }
}
