using System.Runtime.CompilerServices;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

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
/// The backward pass of <see cref="HookedTransformer"/>: hand-derived gradients (see <see cref="ComponentBackward"/>)
/// from d metric / d ln_final.hook_normalized back to hook_embed, through every block, LayerNorm scale paths included.
/// Needs a forward cache holding <see cref="RequiredHooks"/>. Gradients of hook points that share a value
/// (hook_resid_post of layer l and hook_resid_pre of l+1, hook_embed and hook_pos_embed) share one tensor: treat them as read-only.
/// </summary>
internal static class TransformerBackward
{
    /// <summary>The activations the backward pass reads from the forward cache.</summary>
    public static IReadOnlyList<string> RequiredHooks(int nLayers)
    {
        var names = new List<string>();
        for (int l = 0; l < nLayers; l++)
            names.AddRange([HookNames.ResidPre(l), HookNames.Q(l), HookNames.K(l), HookNames.V(l), HookNames.Pattern(l),
                HookNames.ResidMid(l), HookNames.MlpPre(l)]);
        names.Add(HookNames.ResidPost(nLayers - 1));
        return names;
    }

    /// <summary>Backward from a gradient at each prompt's final position only (metrics over final logits).</summary>
    /// <param name="dFinalNormalized">d metric / d ln_final.hook_normalized at each prompt's final position [batch, d_model]</param>
    /// <param name="keep">which hook gradients to return (null = every hook except attn_scores); hook_result is only built when kept.</param>
    /// <param name="tokens">The batch the cache was computed from (its final positions).</param>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="cache">The forward pass's activations (every hook the backward reads).</param>
    public static GradientCache FromFinalPositions(HookedTransformer model, ActivationCache cache, TokenBatch tokens,
        ReadOnlySpan<float> dFinalNormalized, Func<string, bool>? keep = null)
    {
        int d = model.Config.DModel;
        if (dFinalNormalized.Length != tokens.Batch * d)
            throw new ShapeMismatchException($"final-position gradient has {dFinalNormalized.Length} values, expected batch {tokens.Batch} x d_model {d}");
        var full = Tensor.Zeros(tokens.Batch, tokens.Pos, d);
        for (int b = 0; b < tokens.Batch; b++)
            dFinalNormalized.Slice(b * d, d).CopyTo(full.Data.AsSpan((b * tokens.Pos + tokens.FinalPosition(b)) * d));
        return Run(model, cache, full, keep);
    }

    /// <summary>Backward from d metric / d ln_final.hook_normalized [batch, pos, d_model].</summary>
    public static GradientCache Run(HookedTransformer model, ActivationCache cache, Tensor dLnFinalNormalized, Func<string, bool>? keep = null)
    {
        var cfg = model.Config;
        int L = cfg.NLayers, d = cfg.DModel, H = cfg.NHeads, dh = cfg.DHead, hd = H * dh, dMlp = cfg.DMlp;
        var residLast = Require(cache, HookNames.ResidPost(L - 1));
        int batch = residLast.Dim(0), pos = residLast.Dim(1), rows = batch * pos;
        dLnFinalNormalized.RequireShape("d ln_final.hook_normalized", batch, pos, d);
        keep ??= _ => true;
        var grads = new GradientCache();
        var bw = BackwardWeights.For(model);
        void Put(string name, Tensor t) { if (keep(name)) grads.Set(name, t); }

        // A residual branch x + f(LN(x)): the gradient reaching x is the skip path's dOut plus what flows back through
        // the LayerNorm from dNormalized (which also yields hook_scale's gradient).
        Tensor ThroughLayerNorm(Tensor dOut, string inputHook, Tensor? lnW, Tensor dNormalized, string scaleHook)
        {
            var dIn = dOut.Clone();
            var dScale = Tensor.Zeros(batch, pos, 1);
            ComponentBackward.LayerNorm(Require(cache, inputHook).Data, lnW?.Data, cfg.LayerNormEps, dNormalized.Data, dIn.Data, dScale.Data, d);
            Put(scaleHook, dScale);
            return dIn;
        }

        Put(HookNames.LnFinalNormalized, dLnFinalNormalized);
        var dResid = Tensor.Zeros(batch, pos, d);
        var dScale = Tensor.Zeros(batch, pos, 1);
        ComponentBackward.LayerNorm(residLast.Data, model.Weights.LnFinalW?.Data, cfg.LayerNormEps,
            dLnFinalNormalized.Data, dResid.Data, dScale.Data, d);
        Put(HookNames.LnFinalScale, dScale);

        for (int l = L - 1; l >= 0; l--)
        {
            var w = model.Weights.Blocks[l];
            var bl = bw.Blocks[l];
            Put(HookNames.ResidPost(l), dResid);
            Put(HookNames.MlpOut(l), dResid);

            // MLP: mlp_out = post·W_out + b_out; post = gelu_new(pre); pre = ln2·W_in + b_in.
            var pre = Require(cache, HookNames.MlpPre(l));
            var dPost = Tensor.Zeros(batch, pos, dMlp);
            ComponentBackward.Linear(dResid.Data, bl.WOutT, dPost.Data, rows);          // [rows, d] -> [rows, d_mlp]
            Put(HookNames.MlpPost(l), dPost);
            var dPre = Tensor.Zeros(batch, pos, dMlp);
            ComponentBackward.GeluNew(pre.Data, dPost.Data, dPre.Data);
            Put(HookNames.MlpPre(l), dPre);
            var dLn2 = Tensor.Zeros(batch, pos, d);
            ComponentBackward.Linear(dPre.Data, bl.WInT, dLn2.Data, rows);              // [rows, d_mlp] -> [rows, d]
            Put(HookNames.Ln2Normalized(l), dLn2);

            // resid_post = resid_mid + mlp(ln2(resid_mid))
            var dMid = ThroughLayerNorm(dResid, HookNames.ResidMid(l), w.Ln2W, dLn2, HookNames.Ln2Scale(l));
            Put(HookNames.ResidMid(l), dMid);
            Put(HookNames.AttnOut(l), dMid);
            if (keep(HookNames.Result(l)))
                grads.Set(HookNames.Result(l), new Tensor(ComponentBackward.BroadcastHeads(dMid.Data, rows, H, d), batch, pos, H, d));

            // Attention: attn_out = Σ_h z_h·W_O[h] + b_O.
            var dZ = Tensor.Zeros(batch, pos, H, dh);
            ComponentBackward.Linear(dMid.Data, bl.WOT, dZ.Data, rows);                // [rows, d] -> [rows, h·dh]
            Put(HookNames.Z(l), dZ);
            var dQkv = new float[rows * 3 * hd];
            Tensor? dPattern = keep(HookNames.Pattern(l)) ? Tensor.Zeros(batch, H, pos, pos) : null;
            ComponentBackward.AttentionCore(Require(cache, HookNames.Q(l)), Require(cache, HookNames.K(l)),
                Require(cache, HookNames.V(l)), Require(cache, HookNames.Pattern(l)), dZ.Data, dQkv, dPattern?.Data);
            if (dPattern is not null) grads.Set(HookNames.Pattern(l), dPattern);
            var fused = model.Blocks[l].Attn.Qkv;
            if (keep(HookNames.Q(l))) grads.Set(HookNames.Q(l), fused.Split(dQkv, QkvPart.Q, batch, pos));
            if (keep(HookNames.K(l))) grads.Set(HookNames.K(l), fused.Split(dQkv, QkvPart.K, batch, pos));
            if (keep(HookNames.V(l))) grads.Set(HookNames.V(l), fused.Split(dQkv, QkvPart.V, batch, pos));
            var dLn1 = Tensor.Zeros(batch, pos, d);
            ComponentBackward.Linear(dQkv, bl.WQkvT, dLn1.Data, rows);                 // [rows, 3·h·dh] -> [rows, d]
            Put(HookNames.Ln1Normalized(l), dLn1);

            // resid_mid = resid_pre + attn(ln1(resid_pre))
            var dPreResid = ThroughLayerNorm(dMid, HookNames.ResidPre(l), w.Ln1W, dLn1, HookNames.Ln1Scale(l));
            Put(HookNames.ResidPre(l), dPreResid);
            dResid = dPreResid;
        }
        Put(HookNames.Embed, dResid);
        Put(HookNames.PosEmbed, dResid);
        return grads;
    }

    private static Tensor Require(ActivationCache cache, string name) => cache.TryGet(name, out var t) ? t
        : throw new InvalidInputException($"the backward pass needs '{name}' in the forward cache: cache TransformerBackward.RequiredHooks");
}

/// <summary>Transposed weights of each block, packed once per model for the backward GEMMs (dX = dY·Wᵀ).</summary>
internal sealed class BackwardWeights
{
    private static readonly ConditionalWeakTable<HookedTransformer, BackwardWeights> Table = new();

    public required BlockBackwardWeights[] Blocks { get; init; }

    public static BackwardWeights For(HookedTransformer model) => Table.GetValue(model, Build);

    /// <summary>Forgets <paramref name="model"/>'s copies; the next backward pass builds them again.</summary>
    public static void Release(HookedTransformer model) => Table.Remove(model);

    /// <summary>Whether <paramref name="model"/>'s copies are built and held (tests).</summary>
    public static bool Held(HookedTransformer model) => Table.TryGetValue(model, out _);

    private static BackwardWeights Build(HookedTransformer model)
    {
        var blocks = new BlockBackwardWeights[model.Config.NLayers];
        Parallel.For(0, blocks.Length, l => blocks[l] = BlockBackwardWeights.Build(model.Blocks[l]));
        return new BackwardWeights { Blocks = blocks };
    }
}

internal sealed class BlockBackwardWeights
{
    /// <summary>W_outᵀ: K = d_model, N = d_mlp.</summary>
    public required PackedMatrix WOutT { get; init; }
    /// <summary>W_inᵀ: K = d_mlp, N = d_model.</summary>
    public required PackedMatrix WInT { get; init; }
    /// <summary>W_Oᵀ: K = d_model, N = n_heads·d_head.</summary>
    public required PackedMatrix WOT { get; init; }
    /// <summary>[W_Q | W_K | W_V]ᵀ: K = 3·n_heads·d_head, N = d_model.</summary>
    public required PackedMatrix WQkvT { get; init; }

    public static BlockBackwardWeights Build(Components.TransformerBlock block)
    {
        var w = block.Weights;
        int nHeads = w.W_Q.Dim(0), dModel = w.W_Q.Dim(1), dHead = w.W_Q.Dim(2), hd = nHeads * dHead;
        int dMlp = w.W_in.Dim(1);
        return new BlockBackwardWeights
        {
            WOutT = PackedMatrix.Pack(w.W_out.Data, dModel, dMlp, transposed: true),   // W_out [d_mlp, d] = [n, k]
            WInT = PackedMatrix.Pack(w.W_in.Data, dMlp, dModel, transposed: true),     // W_in [d, d_mlp] = [n, k]
            WOT = PackedMatrix.Pack(w.W_O.Data, dModel, hd, transposed: true),        // W_O [h·dh, d] = [n, k]
            WQkvT = block.Attn.Qkv.PackTransposed(),
        };
    }
}
