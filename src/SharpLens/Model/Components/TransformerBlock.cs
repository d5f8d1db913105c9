using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>A pre-LayerNorm GPT-2 block: resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid)).</summary>
public sealed class TransformerBlock
{
    /// <summary>Block <paramref name="layer"/> over weights <paramref name="w"/>; <paramref name="eps"/> is the LayerNorm epsilon.</summary>
    public TransformerBlock(BlockWeights w, int layer, float eps)
    {
        Layer = layer;
        Weights = w;
        Ln1 = new LayerNorm(w.Ln1W, w.Ln1B, eps, HookNames.Ln1Scale(layer), HookNames.Ln1Normalized(layer), layer);
        Attn = new Attention(w, layer);
        Ln2 = new LayerNorm(w.Ln2W, w.Ln2B, eps, HookNames.Ln2Scale(layer), HookNames.Ln2Normalized(layer), layer);
        Mlp = new Mlp(w, layer);
    }

    /// <summary>The block's index, 0-based (the l in blocks.l.*).</summary>
    public int Layer { get; }
    /// <summary>The block's parameters (shared with the model's <see cref="TransformerWeights"/>).</summary>
    public BlockWeights Weights { get; }
    /// <summary>ln1, before attention.</summary>
    public LayerNorm Ln1 { get; }
    /// <summary>The block's multi-head attention (blocks.l.attn).</summary>
    public Attention Attn { get; }
    /// <summary>ln2, before the MLP.</summary>
    public LayerNorm Ln2 { get; }
    /// <summary>The block's MLP (blocks.l.mlp).</summary>
    public Mlp Mlp { get; }

    /// <param name="residPre">[batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <returns>hook_resid_post [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor residPre, ForwardContext ctx, KvCache? kv = null) => Forward(residPre, ctx, kv, null, null);

    /// <summary>
    /// The one block forward. With <paramref name="queryRows"/> every row gives its keys and values but only the
    /// chosen row of each sequence goes through attention's output, ln2 and the MLP (a caller that reads only final
    /// positions); no hook runs then. With <paramref name="qkv"/> ln1 and the Q/K/V projection were done by the caller
    /// (ln1's hooks do not run).
    /// </summary>
    /// <param name="residPre">[batch, pos, d_model]</param>
    /// <param name="ctx">The forward call's hooks and cache (<see cref="ForwardContext.None"/> with query rows).</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <param name="queryRows">[batch] the row (0 ≤ row &lt; pos) whose output is wanted in each sequence, or null for all.</param>
    /// <param name="qkv">ln1(residPre)·W_{Q,K,V} + b [batch·pos, 3·n_heads·d_head] when the caller has it, else null.</param>
    /// <param name="stop">Where to stop (<see cref="BlockStop.None"/>: run the whole block).</param>
    /// <returns>hook_resid_post [batch, pos, d_model], or [batch, 1, d_model] at the query rows; with <paramref name="stop"/>
    /// the activation of that hook point (mlp.hook_pre / hook_post: [batch, pos, d_mlp])</returns>
    internal Tensor Forward(Tensor residPre, ForwardContext ctx, KvCache? kv, int[]? queryRows, float[]? qkv, BlockStop stop = BlockStop.None)
    {
        int batch = residPre.Dim(0), pos = residPre.Dim(1);
        residPre = ctx.Apply(HookNames.ResidPre(Layer), Layer, residPre);
        if (stop == BlockStop.ResidPre) return residPre;
        var normalized = qkv is null ? Ln1.Forward(residPre, ctx) : null;
        var attnOut = ctx.Apply(HookNames.AttnOut(Layer), Layer, Attn.Forward(normalized, qkv, batch, pos, ctx, kv, queryRows));
        if (normalized is not null) ctx.Release(normalized, HookNames.Ln1Normalized(Layer));
        var residRows = queryRows is null ? residPre : SequenceRows.Gather(residPre, queryRows);
        // Each residual sum goes into the branch output's memory when nobody can hold that output.
        var residMid = ctx.Apply(HookNames.ResidMid(Layer), Layer, Add(residRows, attnOut, ctx, HookNames.AttnOut(Layer)));
        if (stop == BlockStop.ResidMid) return residMid;
        var ln2 = Ln2.Forward(residMid, ctx);
        var hidden = Mlp.Hidden(ln2, ctx, stopAfterPre: stop == BlockStop.MlpPre);
        ctx.Release(ln2, HookNames.Ln2Normalized(Layer));
        if (stop is BlockStop.MlpPre or BlockStop.MlpPost) return hidden;
        var mlpOut = ctx.Apply(HookNames.MlpOut(Layer), Layer, Mlp.Output(hidden, ctx));
        ctx.Release(hidden, HookNames.MlpPost(Layer));
        if (stop == BlockStop.MlpOut) return mlpOut;
        var residPost = Add(residMid, mlpOut, ctx, HookNames.MlpOut(Layer));
        ctx.Release(residMid, HookNames.ResidMid(Layer), HookNames.AttnOut(Layer));
        return ctx.Apply(HookNames.ResidPost(Layer), Layer, residPost);
    }

    // a + b, written over b when b is this call's and nobody can hold it under bHook. Elementwise, so split over both
    // cores like the other row-wise work between GEMMs.
    private static Tensor Add(Tensor a, Tensor b, ForwardContext ctx, string bHook)
    {
        var sum = ctx.IsScratch(b, bHook) ? b : ctx.Allocate(a.Shape);
        int length = sum.Length;
        ParallelRows.For(length, length, (i0, i1) =>
            System.Numerics.Tensors.TensorPrimitives.Add(a.Data.AsSpan(i0, i1 - i0), b.Data.AsSpan(i0, i1 - i0), sum.Data.AsSpan(i0, i1 - i0)));
        return sum;
    }
}
