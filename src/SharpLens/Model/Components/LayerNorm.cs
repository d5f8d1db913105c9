using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// LayerNorm as TransformerLens writes it: centre, divide by hook_scale = sqrt(mean(x²)+eps), then
/// ·w + b. After fold_ln, <see cref="W"/> and <see cref="B"/> are null (LNPre), their effect folded downstream.
/// </summary>
public sealed class LayerNorm(Tensor? w, Tensor? b, float eps, string scaleHook, string normalizedHook, int? layer)
{
    /// <summary>[d_model] the scale γ (TransformerLens' ln.w), or null after fold_ln.</summary>
    public Tensor? W { get; } = w;
    /// <summary>[d_model] the shift β (ln.b), or null after fold_ln.</summary>
    public Tensor? B { get; } = b;
    /// <summary>Added to the mean square before the square root (layer_norm_epsilon).</summary>
    public float Eps { get; } = eps;

    /// <param name="x">[batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>hook_normalized [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx)
    {
        int batch = x.Dim(0), pos = x.Dim(1), d = x.Dim(2);
        var scale = Tensor.Uninitialized(batch, pos, 1);
        var normalized = ctx.Allocate(batch, pos, d);
        // Rows are independent: split them over both cores like the other row-wise work between GEMMs.
        ParallelRows.For(batch * pos, (long)x.Length * 4, (r0, r1) =>
            Kernels.LayerNorm(x.Data.AsSpan(r0 * d, (r1 - r0) * d), d, Eps, scale.Data.AsSpan(r0, r1 - r0),
                normalized.Data.AsSpan(r0 * d, (r1 - r0) * d), W?.Data, B?.Data));
        if (ctx.IsObserved(scaleHook))
        {
            var hooked = ctx.Apply(scaleHook, layer, scale);
            if (ctx.HasHook(scaleHook)) Renormalize(x, hooked, normalized);
        }
        return ctx.Apply(normalizedHook, layer, normalized);
    }

    // A hook that edits hook_scale (e.g. freezing LayerNorm for attribution) changes what normalized divides by.
    private void Renormalize(Tensor x, Tensor scale, Tensor normalized)
    {
        int d = x.Dim(2);
        for (int r = 0; r < scale.Length; r++)
        {
            var src = x.Data.AsSpan(r * d, d);
            var dst = normalized.Data.AsSpan(r * d, d);
            Kernels.Centre(src, dst);
            System.Numerics.Tensors.TensorPrimitives.Multiply(dst, 1f / scale.Data[r], dst);
            if (W is not null) System.Numerics.Tensors.TensorPrimitives.Multiply(dst, W.Data, dst);
            if (B is not null) System.Numerics.Tensors.TensorPrimitives.Add(dst, B.Data, dst);
        }
    }
}
