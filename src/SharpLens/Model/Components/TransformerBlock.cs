using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>A pre-LayerNorm GPT-2 block: resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid)).</summary>
public sealed partial class TransformerBlock
{
    public TransformerBlock(BlockWeights w, int layer, float eps)
    {
        Layer = layer;
        Weights = w;
        Ln1 = new LayerNorm(w.Ln1W, w.Ln1B, eps, HookNames.Ln1Scale(layer), HookNames.Ln1Normalized(layer), layer);
        Attn = new Attention(w, layer);
        Ln2 = new LayerNorm(w.Ln2W, w.Ln2B, eps, HookNames.Ln2Scale(layer), HookNames.Ln2Normalized(layer), layer);
        Mlp = new Mlp(w, layer);
    }

    public int Layer { get; }
    public BlockWeights Weights { get; }
    public LayerNorm Ln1 { get; }
    public Attention Attn { get; }
    public LayerNorm Ln2 { get; }
    public Mlp Mlp { get; }

    /// <param name="residPre">[batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <returns>hook_resid_post [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor residPre, ForwardContext ctx, KvCache? kv = null)
    {
        residPre = ctx.Apply(HookNames.ResidPre(Layer), Layer, residPre);
        var attnOut = ctx.Apply(HookNames.AttnOut(Layer), Layer, Attn.Forward(Ln1.Forward(residPre, ctx), ctx, kv));
        var residMid = ctx.Apply(HookNames.ResidMid(Layer), Layer, Add(residPre, attnOut));
        var mlpOut = ctx.Apply(HookNames.MlpOut(Layer), Layer, Mlp.Forward(Ln2.Forward(residMid, ctx), ctx));
        return ctx.Apply(HookNames.ResidPost(Layer), Layer, Add(residMid, mlpOut));
    }

    /// <summary><see cref="Forward"/> with ln1 and the Q/K/V projection already done by the caller; hooks from
    /// attention on run as usual (ln1's do not).</summary>
    /// <param name="residPre">[batch, pos, d_model]</param>
    /// <param name="qkv">ln1(residPre)·W_{Q,K,V} + b [batch·pos, 3·n_heads·d_head]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <returns>hook_resid_post [batch, pos, d_model]</returns>
    internal Tensor ForwardFromQkv(Tensor residPre, float[] qkv, ForwardContext ctx, KvCache? kv)
    {
        residPre = ctx.Apply(HookNames.ResidPre(Layer), Layer, residPre);
        var attnOut = ctx.Apply(HookNames.AttnOut(Layer), Layer, Attn.ForwardFromQkv(qkv, residPre.Dim(0), residPre.Dim(1), ctx, kv));
        var residMid = ctx.Apply(HookNames.ResidMid(Layer), Layer, Add(residPre, attnOut));
        var mlpOut = ctx.Apply(HookNames.MlpOut(Layer), Layer, Mlp.Forward(Ln2.Forward(residMid, ctx), ctx));
        return ctx.Apply(HookNames.ResidPost(Layer), Layer, Add(residMid, mlpOut));
    }

    private static Tensor Add(Tensor a, Tensor b)
    {
        var sum = Tensor.Uninitialized(a.Shape);
        System.Numerics.Tensors.TensorPrimitives.Add(a.Data, b.Data, sum.Data);
        return sum;
    }
}
