using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Model.Backward;

/// <summary>d metric / d activation for hook points, keyed by TransformerLens hook name (shapes as the activations).</summary>
public sealed class GradientCache
{
    private readonly Dictionary<string, Tensor> _grads = new(StringComparer.Ordinal);

    /// <summary>The hook names that have a gradient.</summary>
    public IReadOnlyCollection<string> Keys => _grads.Keys;
    /// <summary>Whether the hook named <paramref name="name"/> (full name) has a gradient.</summary>
    public bool Contains(string name) => _grads.ContainsKey(name);
    /// <summary>The gradient at the hook named <paramref name="name"/> (full name), shaped like the activation, if present.</summary>
    public bool TryGet(string name, out Tensor tensor) => _grads.TryGetValue(name, out tensor!);

    /// <summary>The gradient at a hook; short names as in <see cref="ActivationCache"/> ("resid_pre", 3).</summary>
    public Tensor this[string name, int? layer = null, string? layerType = null]
    {
        get
        {
            string full = HookNames.GetActName(name, layer, layerType);
            return _grads.TryGetValue(full, out var t) ? t
                : throw new InvalidInputException($"no gradient for '{full}': it was filtered out of the backward pass");
        }
    }

    internal void Set(string name, Tensor t) => _grads[name] = t;
}

/// <summary>
/// The backward pass of <see cref="HookedTransformer"/>, written once against its components: from d/d ln_final's
/// output (what the unembedding reads: ln_final.hook_normalized for LayerNorm, that ∘ w for RMSNorm) or from d/d logits back through ln_final and every block (each block through its
/// components' backward steps) to hook_embed, reporting the hook gradients asked for and, when a
/// <see cref="ParameterGradients"/> is given, accumulating the gradients of the parameters it wants.
/// Needs a forward cache holding <see cref="HookedTransformer.BackwardHooks"/>. Gradients of hook points that carry
/// the same value (hook_resid_post of layer l and hook_resid_pre of l+1, hook_embed and hook_pos_embed) share one
/// tensor: treat them as read-only.
/// </summary>
internal static class TransformerBackward
{
    /// <summary>Backward from a gradient at each prompt's final position only (metrics over final logits).</summary>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="cache">The forward pass's activations (every hook the backward reads).</param>
    /// <param name="tokens">The batch the cache was computed from (its final positions).</param>
    /// <param name="dFinalNormalized">d metric / d ln_final's output at each prompt's final position [batch, d_model]</param>
    /// <param name="keep">which hook gradients to return (null = every hook except attn_scores); hook_result is only built when kept.</param>
    /// <param name="parameters">where parameter gradients accumulate, or null for none.</param>
    public static GradientCache FromFinalPositions(HookedTransformer model, ActivationCache cache, TokenBatch tokens,
        ReadOnlySpan<float> dFinalNormalized, Func<string, bool>? keep = null, ParameterGradients? parameters = null)
    {
        int d = model.Config.DModel;
        if (dFinalNormalized.Length != tokens.Batch * d)
            throw new ShapeMismatchException($"final-position gradient has {dFinalNormalized.Length} values, expected batch {tokens.Batch} x d_model {d}");
        var full = Tensor.Zeros(tokens.Batch, tokens.Pos, d);
        for (int b = 0; b < tokens.Batch; b++)
            dFinalNormalized.Slice(b * d, d).CopyTo(full.Data.AsSpan((b * tokens.Pos + tokens.FinalPosition(b)) * d));
        return Run(model, cache, full, keep, parameters, tokens);
    }

    /// <summary>Backward from d loss / d logits [batch, pos, d_vocab] (a loss over every position, e.g. next-token
    /// cross-entropy): the unembedding's step (and W_U, b_U's gradients when wanted), then the rest of the backward pass.
    /// The cache must also hold ln_final.hook_normalized when W_U's gradient is wanted.</summary>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="cache">The forward pass's activations.</param>
    /// <param name="tokens">The batch the cache was computed from (W_E's gradient scatters by its ids).</param>
    /// <param name="dLogits">d loss / d logits [batch, pos, d_vocab]</param>
    /// <param name="keep">which hook gradients to return (null = all).</param>
    /// <param name="parameters">where parameter gradients accumulate, or null for none.</param>
    public static GradientCache FromLogits(HookedTransformer model, ActivationCache cache, TokenBatch tokens, Tensor dLogits,
        Func<string, bool>? keep = null, ParameterGradients? parameters = null)
    {
        var pass = new BackwardPass(cache, new GradientCache(), keep ?? (_ => true), parameters);
        dLogits.RequireShape("d logits", tokens.Batch, tokens.Pos, model.Config.DVocab);
        return RunPass(model, pass, tokens, model.UnembedLayer.Backward(pass, dLogits, model.LnFinal));
    }

    /// <summary>Backward from d metric / d ln_final's output [batch, pos, d_model] (ln_final.hook_normalized for LayerNorm).</summary>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="cache">The forward pass's activations (every hook the backward reads).</param>
    /// <param name="dLnFinalNormalized">d metric / d ln_final's output [batch, pos, d_model]</param>
    /// <param name="keep">which hook gradients to return (null = all).</param>
    /// <param name="parameters">where parameter gradients accumulate, or null for none.</param>
    /// <param name="tokens">The batch the cache was computed from; needed only for W_E's gradient.</param>
    public static GradientCache Run(HookedTransformer model, ActivationCache cache, Tensor dLnFinalNormalized,
        Func<string, bool>? keep = null, ParameterGradients? parameters = null, TokenBatch? tokens = null) =>
        RunPass(model, new BackwardPass(cache, new GradientCache(), keep ?? (_ => true), parameters), tokens, dLnFinalNormalized);

    private static GradientCache RunPass(HookedTransformer model, BackwardPass pass, TokenBatch? tokens, Tensor dLnFinalNormalized)
    {
        var cfg = model.Config;
        string lastResid = HookNames.ResidPost(cfg.NLayers - 1);
        var residLast = pass.Require(lastResid);
        dLnFinalNormalized.RequireShape("d ln_final.hook_normalized", residLast.Dim(0), residLast.Dim(1), cfg.DModel);
        model.PrepareBackward();

        var dResid = Tensor.Zeros(residLast.Shape);
        model.LnFinal.Backward(pass, lastResid, dLnFinalNormalized, dResid);
        for (int l = cfg.NLayers - 1; l >= 0; l--) dResid = model.Blocks[l].Backward(pass, dResid);
        model.EmbedLayer.Backward(pass, dResid, tokens);
        model.PosEmbedLayer?.Backward(pass, dResid);
        return pass.Grads;
    }
}
