using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Model.Components;

/// <summary>
/// A normalization layer as TransformerLens writes it: hook_scale = √(mean(P(x)²) + eps) and x̂ = P(x) / hook_scale,
/// where P centres the row (<see cref="LayerNorm"/>) or leaves it alone (<see cref="RmsNorm"/>); the output is
/// x̂ ∘ w + b (no b for RMSNorm). Without w and b (after fold_ln) it is TransformerLens' LNPre / RMSNormPre. As in
/// TransformerLens, LayerNorm's hook_normalized is the output (after w and b) and RMSNorm's is x̂ (before w). This
/// class holds the forward, the backward (input gradient through the scale too, and the gradients of w and b) and the
/// two hook points; a subclass says only whether it centres.
/// </summary>
public abstract class Normalization
{
    private readonly IReadOnlyList<string> _leadingAxes;
    private readonly string _widthAxis;

    /// <summary>A normalization named <paramref name="name"/> (its hook points are <c>{name}.hook_scale</c> and
    /// <c>{name}.hook_normalized</c>) over rows of <paramref name="width"/>.</summary>
    /// <param name="name">The module's TransformerLens path: <c>blocks.0.ln1</c>, <c>ln_final</c>.</param>
    /// <param name="layer">The block it belongs to (null for ln_final).</param>
    /// <param name="width">The normalized width (d_model).</param>
    /// <param name="w">[width] the scale, or null after fold_ln.</param>
    /// <param name="b">[width] the shift, or null (always null for RMSNorm).</param>
    /// <param name="eps">Added to the mean square before the square root.</param>
    /// <param name="leadingAxes">The hook points' axes before the normalized one (default batch, pos).</param>
    /// <param name="widthAxis">The name of the normalized axis (default d_model).</param>
    private protected Normalization(string name, int? layer, int width, Tensor? w, Tensor? b, float eps,
        IReadOnlyList<string>? leadingAxes, string widthAxis)
    {
        Name = name; Layer = layer; Width = width; W = w; B = b; Eps = eps;
        _leadingAxes = leadingAxes ?? ["batch", "pos"];
        _widthAxis = widthAxis;
        ScaleHook = name + ".hook_scale";
        NormalizedHook = name + ".hook_normalized";
        w?.RequireShape($"{name}.w", width);
        b?.RequireShape($"{name}.b", width);
    }

    /// <summary>The model's normalization at <paramref name="name"/>: RMSNorm when the config's normalization_type is RMS
    /// or RMSPre (or <paramref name="rms"/>, e.g. final_rms), LayerNorm otherwise; LNPre / RMSPre when
    /// <paramref name="w"/> is null (folded).</summary>
    /// <param name="config">The model's configuration (normalization_type, eps, d_model).</param>
    /// <param name="name">The module's TransformerLens path.</param>
    /// <param name="layer">The block, or null for ln_final.</param>
    /// <param name="w">[d_model] or null.</param>
    /// <param name="b">[d_model] or null (must be null for RMSNorm).</param>
    /// <param name="rms">Force RMSNorm (final_rms).</param>
    internal static Normalization Create(ModelConfig config, string name, int? layer, Tensor? w, Tensor? b, bool rms = false)
    {
        if (!(rms || config.UsesRmsNorm)) return new LayerNorm(name, layer, config.DModel, w, b, config.LayerNormEps);
        if (b is not null) throw new InvalidCheckpointException($"{name} is an RMSNorm but has a bias ({name}.b): RMSNorm has only a weight");
        return new RmsNorm(name, layer, config.DModel, w, config.LayerNormEps);
    }

    /// <summary>The module's TransformerLens path (<c>blocks.0.ln1</c>, <c>ln_final</c>); parameters are <c>{Name}.w</c>, <c>{Name}.b</c>.</summary>
    public string Name { get; }
    /// <summary>The block this normalization belongs to, or null for ln_final.</summary>
    public int? Layer { get; }
    /// <summary>The normalized width (d_model).</summary>
    public int Width { get; }
    /// <summary>[d_model] the scale (TransformerLens' <c>w</c>), or null after fold_ln.</summary>
    public Tensor? W { get; }
    /// <summary>[d_model] the shift (<c>b</c>), or null after fold_ln and for RMSNorm.</summary>
    public Tensor? B { get; }
    /// <summary>Added to the mean square before the square root.</summary>
    public float Eps { get; }
    /// <summary>Whether each row is centred before it is scaled (LayerNorm) or not (RMSNorm).</summary>
    public abstract bool Centres { get; }
    /// <summary>Whether hook_normalized shows the output after w and b (LayerNorm) or x̂ before w (RMSNorm), as in TransformerLens.</summary>
    private bool HookAfterAffine => Centres;
    /// <summary>TransformerLens' normalization_type of this layer: LN, LNPre, RMS or RMSPre.</summary>
    public string NormalizationType => (Centres ? "LN" : "RMS") + (W is null ? "Pre" : "");
    /// <summary><c>{Name}.hook_scale</c> [batch, pos, 1].</summary>
    public string ScaleHook { get; }
    /// <summary><c>{Name}.hook_normalized</c> [batch, pos, d_model].</summary>
    public string NormalizedHook { get; }

    /// <summary>The two hook points, in forward order, with their shapes.</summary>
    internal IEnumerable<HookDeclaration> HookPoints()
    {
        yield return new(ScaleHook, Layer, [.. _leadingAxes, "1"]);
        yield return new(NormalizedHook, Layer, [.. _leadingAxes, _widthAxis]);
    }

    /// <summary>The row statistic every forward, backward and patching shortcut uses: writes P(x) (the centred row, or
    /// the row itself) to <paramref name="projected"/> (may be <paramref name="x"/>) and returns hook_scale.</summary>
    /// <param name="x">[width] one row</param>
    /// <param name="projected">[width] written</param>
    internal float Statistic(ReadOnlySpan<float> x, Span<float> projected)
    {
        if (Centres) return Kernels.CentreAndScale(x, projected, Eps);
        if (!x.Overlaps(projected)) x.CopyTo(projected);
        return MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / x.Length + Eps);
    }

    /// <param name="x">[batch, pos, d_model] (any leading axes; the last one is normalized)</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>the output x̂ ∘ w + b, shaped like <paramref name="x"/> (for LayerNorm: hook_normalized)</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx)
    {
        int d = Width;
        if (x.Dim(-1) != d) throw new ShapeMismatchException($"{Name} normalizes rows of {d}, got input {x.ShapeString}");
        int rows = x.Length / d;
        var scale = Tensor.Uninitialized(ScaleShape(x));
        var normalized = ctx.Allocate(x.Shape);
        bool affineNow = HookAfterAffine;
        // Rows are independent: split them over both cores like the other row-wise work between GEMMs.
        ParallelRows.For(rows, (long)x.Length * 4, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var dst = normalized.Data.AsSpan(r * d, d);
                float s = Statistic(x.Data.AsSpan(r * d, d), dst);
                scale.Data[r] = s;
                TensorPrimitives.Multiply(dst, 1f / s, dst);
                if (affineNow) Affine(dst);
            }
        });
        if (ctx.IsObserved(ScaleHook))
        {
            var hooked = ctx.Apply(ScaleHook, Layer, scale);
            // A hook that edits hook_scale (e.g. freezing LayerNorm for attribution) changes what normalized divides by.
            if (ctx.HasHook(ScaleHook))
                for (int r = 0; r < hooked.Length; r++)
                {
                    var dst = normalized.Data.AsSpan(r * d, d);
                    Statistic(x.Data.AsSpan(r * d, d), dst);
                    TensorPrimitives.Multiply(dst, 1f / hooked.Data[r], dst);
                    if (affineNow) Affine(dst);
                }
        }
        normalized = ctx.Apply(NormalizedHook, Layer, normalized);
        if (affineNow || W is null) return normalized;
        // RMSNorm: the hook showed x̂; the output is x̂ ∘ w, in place when nobody can hold hook_normalized.
        var output = ctx.IsScratch(normalized, NormalizedHook) ? normalized : ctx.Allocate(x.Shape);
        ParallelRows.For(rows, (long)x.Length, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                TensorPrimitives.Multiply(normalized.Data.AsSpan(r * d, d), W.Data, output.Data.AsSpan(r * d, d));
        });
        if (!ReferenceEquals(output, normalized)) ctx.Release(normalized, NormalizedHook);
        return output;
    }

    // The shape of hook_scale for an input of x's shape: the normalized axis becomes 1.
    private static int[] ScaleShape(Tensor x)
    {
        var shape = x.Shape.ToArray();
        shape[^1] = 1;
        return shape;
    }

    // row = row ∘ w + b (the reference's order).
    private void Affine(Span<float> row)
    {
        if (W is not null) TensorPrimitives.Multiply(row, W.Data, row);
        if (B is not null) TensorPrimitives.Add(row, B.Data, row);
    }

    /// <summary>The layer's output (what the next component reads) from the value of hook_normalized: the same tensor for
    /// LayerNorm and for RMSNorm without w, hook_normalized ∘ w (a new tensor) for RMSNorm with w.</summary>
    /// <param name="normalizedHookValue">hook_normalized [batch, pos, d_model]</param>
    internal Tensor OutputOf(Tensor normalizedHookValue)
    {
        if (HookAfterAffine || W is null) return normalizedHookValue;
        var output = Tensor.Uninitialized(normalizedHookValue.Shape);
        int d = Width;
        for (int off = 0; off < output.Length; off += d)
            TensorPrimitives.Multiply(normalizedHookValue.Data.AsSpan(off, d), W.Data, output.Data.AsSpan(off, d));
        return output;
    }

    /// <summary>
    /// The backward step from d/d output, with the path through the scale (what autograd gives). With p = P(x),
    /// s = hook_scale, x̂ = p / s: dx̂ = dOutput ∘ w; dS = −Σ dx̂·p / s²; dp = dx̂ / s + dS·p / (d·s); dx = dp − mean(dp)
    /// for LayerNorm (P centres), dx = dp for RMSNorm. Parameter gradients: d/dw = Σ_rows dOutput ∘ x̂, d/db = Σ_rows dOutput.
    /// </summary>
    /// <param name="x">the input [rows, d_model]</param>
    /// <param name="dOutput">d/d the output [rows, d_model]</param>
    /// <param name="dInput">[rows, d_model]: the input gradient is ADDED here (residual stream accumulation)</param>
    /// <param name="dScale">[rows] d/d hook_scale, written; or empty to skip</param>
    /// <param name="parameters">accumulates <c>{Name}.w</c> and <c>{Name}.b</c> when wanted, or null</param>
    internal void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dOutput, Span<float> dInput, Span<float> dScale,
        ParameterGradients? parameters = null) => Backward(x, dOutput, fromHook: false, dInput, dScale, parameters);

    /// <summary><see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ParameterGradients?)"/>
    /// from the gradient of hook_normalized instead of the output's (they differ by ∘ w for RMSNorm, whose hook is before w).</summary>
    /// <param name="x">the input [rows, d_model]</param>
    /// <param name="dNormalizedHook">d/d hook_normalized [rows, d_model]</param>
    /// <param name="dInput">[rows, d_model] added to</param>
    /// <param name="dScale">[rows] written, or empty</param>
    internal void BackwardFromHook(ReadOnlySpan<float> x, ReadOnlySpan<float> dNormalizedHook, Span<float> dInput, Span<float> dScale) =>
        Backward(x, dNormalizedHook, fromHook: !HookAfterAffine, dInput, dScale, null);

    // fromHook: dGiven is already dx̂ (RMSNorm's hook); otherwise it is d output and dx̂ = d output ∘ w.
    private void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dGiven, bool fromHook, Span<float> dInput, Span<float> dScale,
        ParameterGradients? parameters)
    {
        int d = Width, rows = x.Length / d;
        var dW = W is null || fromHook ? null : parameters?.For(Name + ".w", d);
        var dB = B is null || fromHook ? null : parameters?.For(Name + ".b", d);
        var p = new float[d];
        var dn = new float[d];
        for (int r = 0; r < rows; r++)
        {
            var g = dGiven.Slice(r * d, d);
            float s = Statistic(x.Slice(r * d, d), p);
            if (dB is not null) TensorPrimitives.Add(dB.Data, g, dB.Data);
            if (dW is not null)
            {
                TensorPrimitives.Multiply(p, 1f / s, dn);
                TensorPrimitives.MultiplyAdd(g, dn, dW.Data, dW.Data);
            }
            if (W is null || fromHook) g.CopyTo(dn); else TensorPrimitives.Multiply(g, W.Data, dn);
            float ds = -TensorPrimitives.Dot(dn, p) / (s * s);
            if (!dScale.IsEmpty) dScale[r] = ds;
            TensorPrimitives.Multiply(dn, 1f / s, dn);
            TensorPrimitives.MultiplyAdd(p, ds / (d * s), dn, dn);
            if (Centres) TensorPrimitives.Subtract(dn, TensorPrimitives.Sum(dn) / d, dn);
            var dst = dInput.Slice(r * d, d);
            TensorPrimitives.Add(dst, dn, dst);
        }
    }

    /// <summary>The backward step within a backward pass: reads the input from the cache (<paramref name="inputHook"/>),
    /// reports the gradients of hook_normalized and hook_scale, adds the input gradient to <paramref name="dInput"/>.</summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="inputHook">the hook point of this layer's input (e.g. blocks.0.hook_resid_pre)</param>
    /// <param name="dOutput">d/d the output (what the next component read) [batch, pos, d_model]</param>
    /// <param name="dInput">[batch, pos, d_model] added to</param>
    internal void Backward(BackwardPass pass, string inputHook, Tensor dOutput, Tensor dInput)
    {
        if (pass.Keeps(NormalizedHook))
        {
            if (HookAfterAffine || W is null) pass.Put(NormalizedHook, dOutput);
            else
            {
                var dHook = Tensor.Uninitialized(dOutput.Shape);
                for (int off = 0; off < dHook.Length; off += Width)
                    TensorPrimitives.Multiply(dOutput.Data.AsSpan(off, Width), W.Data, dHook.Data.AsSpan(off, Width));
                pass.Put(NormalizedHook, dHook);
            }
        }
        var dScale = Tensor.Zeros(ScaleShape(dInput));
        Backward(pass.Require(inputHook).Data, dOutput.Data, dInput.Data, dScale.Data, pass.Parameters);
        pass.Put(ScaleHook, dScale);
    }
}

/// <summary>LayerNorm as TransformerLens writes it (LN, or LNPre after fold_ln): centre each row, divide by
/// hook_scale = √(mean(x_c²) + eps), then ∘ w + b.</summary>
public sealed class LayerNorm : Normalization
{
    /// <summary>A LayerNorm named <paramref name="name"/> (e.g. <c>blocks.0.ln1</c>) with <paramref name="w"/> and
    /// <paramref name="b"/> [d_model] (both null after fold_ln).</summary>
    /// <param name="name">The module's TransformerLens path.</param>
    /// <param name="layer">The block it belongs to (null for ln_final).</param>
    /// <param name="width">d_model.</param>
    /// <param name="w">[d_model] or null.</param>
    /// <param name="b">[d_model] or null.</param>
    /// <param name="eps">layer_norm_epsilon.</param>
    public LayerNorm(string name, int? layer, int width, Tensor? w, Tensor? b, float eps) : base(name, layer, width, w, b, eps, null, "d_model") { }

    /// <inheritdoc/>
    public override bool Centres => true;
}

/// <summary>RMSNorm as TransformerLens writes it (RMS, or RMSPre after fold_ln): divide each row by hook_scale =
/// √(mean(x²) + eps), then ∘ w. No centring and no bias.</summary>
public sealed class RmsNorm : Normalization
{
    /// <summary>An RMSNorm named <paramref name="name"/> (e.g. <c>blocks.0.ln1</c>) with <paramref name="w"/> [width]
    /// (null after fold_ln).</summary>
    /// <param name="name">The module's TransformerLens path.</param>
    /// <param name="layer">The block it belongs to (null for ln_final).</param>
    /// <param name="width">The normalized width.</param>
    /// <param name="w">[width] or null.</param>
    /// <param name="eps">The epsilon added to the mean square.</param>
    /// <param name="leadingAxes">The hook points' axes before the normalized one: null for [batch, pos] over d_model;
    /// given (e.g. batch, pos, head_index) the normalized axis is d_head (Qwen3's per-head q_norm / k_norm).</param>
    public RmsNorm(string name, int? layer, int width, Tensor? w, float eps, IReadOnlyList<string>? leadingAxes = null)
        : base(name, layer, width, w, null, eps, leadingAxes, leadingAxes is null ? "d_model" : "d_head") { }

    /// <inheritdoc/>
    public override bool Centres => false;
}
