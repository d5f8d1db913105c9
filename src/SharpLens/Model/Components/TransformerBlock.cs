using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>How an edit of one of a block's hook points reaches the rest of the model (what lets the exact patching
/// engine skip work: docs/architecture.md, step 5).</summary>
internal enum ResidualEntry
{
    /// <summary>Through the block's own computation (q, k, v, pattern, the norms, mlp.hook_pre ...): nothing can be skipped.</summary>
    Inside,
    /// <summary>Only through hook_resid_mid, as an addition at its own positions (sequential blocks: resid_mid,
    /// attn_out, z): the block's attention never sees it.</summary>
    ResidMid,
    /// <summary>Only through hook_resid_post, as an addition at its own positions (resid_post, mlp_out, mlp.hook_post;
    /// with a parallel residual also attn_out and z).</summary>
    ResidPost,
}

/// <summary>
/// A pre-norm transformer block composed of its components: ln1, attention, ln2 and the MLP, wired sequentially
/// (resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid))), in parallel
/// (parallel_attn_mlp: resid_post = resid_pre + attn(ln1(resid_pre)) + mlp(ln2(resid_pre)), no resid_mid) or without an
/// MLP (attn_only: resid_post = resid_pre + attn(ln1(resid_pre))). The block owns the wiring; everything inside a
/// component stays inside it, and every engine (forward, backward, exact patching, edge patching) goes through the
/// block and its components.
/// </summary>
public sealed class TransformerBlock
{
    /// <summary>Block <paramref name="layer"/> of a model shaped by <paramref name="config"/> over weights <paramref name="w"/>.</summary>
    /// <param name="config">The model's configuration (which components, how they are wired).</param>
    /// <param name="w">The block's weights.</param>
    /// <param name="layer">The block's index.</param>
    public TransformerBlock(ModelConfig config, BlockWeights w, int layer) : this(config, w, layer, null) { }

    internal TransformerBlock(ModelConfig config, BlockWeights w, int layer, RotaryEmbedding? rotary)
    {
        ArgumentNullException.ThrowIfNull(config);
        Layer = layer;
        Weights = w;
        Ln1 = Normalization.Create(config, $"blocks.{layer}.ln1", layer, w.Ln1W, w.Ln1B);
        Attn = new Attention(config, w, layer, rotary ?? (config.IsRotary ? new RotaryEmbedding(config) : null));
        ParallelAttnMlp = config.ParallelAttnMlp;
        if (config.AttnOnly) return;
        Ln2 = Normalization.Create(config, $"blocks.{layer}.ln2", layer, w.Ln2W, w.Ln2B);
        Mlp = new Mlp(w, layer, config.ActFn);
    }

    /// <summary>The block's index, 0-based (the l in blocks.l.*).</summary>
    public int Layer { get; }
    /// <summary>The block's parameters (shared with the model's <see cref="TransformerWeights"/>).</summary>
    public BlockWeights Weights { get; }
    /// <summary>ln1, before attention.</summary>
    public Normalization Ln1 { get; }
    /// <summary>The block's attention (blocks.l.attn).</summary>
    public Attention Attn { get; }
    /// <summary>ln2, before the MLP (null for attn_only).</summary>
    public Normalization? Ln2 { get; }
    /// <summary>The block's MLP (blocks.l.mlp; null for attn_only).</summary>
    public Mlp? Mlp { get; }
    /// <summary>Whether attention and MLP both read resid_pre (parallel_attn_mlp).</summary>
    public bool ParallelAttnMlp { get; }
    /// <summary>Whether the block has hook_resid_mid (sequential blocks with an MLP).</summary>
    public bool HasResidMid => Mlp is not null && !ParallelAttnMlp;

    /// <summary>The block's hook points in the order its forward reaches them, with their shapes.</summary>
    internal IEnumerable<HookDeclaration> HookPoints()
    {
        string[] residual = ["batch", "pos", "d_model"];
        yield return new(HookNames.ResidPre(Layer), Layer, residual);
        foreach (var h in Ln1.HookPoints()) yield return h;
        foreach (var h in Attn.HookPoints()) yield return h;
        yield return new(HookNames.AttnOut(Layer), Layer, residual);
        if (Mlp is not null)
        {
            if (HasResidMid) yield return new(HookNames.ResidMid(Layer), Layer, residual);
            foreach (var h in Ln2!.HookPoints()) yield return h;
            foreach (var h in Mlp.HookPoints()) yield return h;
            yield return new(HookNames.MlpOut(Layer), Layer, residual);
        }
        yield return new(HookNames.ResidPost(Layer), Layer, residual);
    }

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
    /// <param name="qkv">ln1(residPre)·W_{Q,K,V} + b [batch·pos, fused width] when the caller has it, else null.</param>
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
        if (normalized is not null) ctx.Release(normalized, Ln1.NormalizedHook);
        var residRows = queryRows is null ? residPre : SequenceRows.Gather(residPre, queryRows);
        if (Mlp is null)
            return ctx.Apply(HookNames.ResidPost(Layer), Layer, Add(residRows, attnOut, ctx, HookNames.AttnOut(Layer)));

        // The MLP reads resid_mid (sequential) or resid_pre (parallel).
        Tensor mlpInput = residRows;
        if (!ParallelAttnMlp)
        {
            // Each residual sum goes into the branch output's memory when nobody can hold that output.
            mlpInput = ctx.Apply(HookNames.ResidMid(Layer), Layer, Add(residRows, attnOut, ctx, HookNames.AttnOut(Layer)));
            if (stop == BlockStop.ResidMid) return mlpInput;
        }
        var ln2 = Ln2!.Forward(mlpInput, ctx);
        var hidden = Mlp.Hidden(ln2, ctx, stopAfterPre: stop == BlockStop.MlpPre);
        ctx.Release(ln2, Ln2.NormalizedHook);
        if (stop is BlockStop.MlpPre or BlockStop.MlpPost) return hidden;
        var mlpOut = ctx.Apply(HookNames.MlpOut(Layer), Layer, Mlp.Output(hidden, ctx));
        ctx.Release(hidden, Mlp.PostHook);
        if (stop == BlockStop.MlpOut) return mlpOut;
        Tensor residPost;
        if (ParallelAttnMlp)
        {
            var partial = Add(residRows, attnOut, ctx, HookNames.AttnOut(Layer));
            residPost = Add(partial, mlpOut, ctx, HookNames.MlpOut(Layer));
            ctx.Release(partial, HookNames.AttnOut(Layer));
        }
        else
        {
            residPost = Add(mlpInput, mlpOut, ctx, HookNames.MlpOut(Layer));
            ctx.Release(mlpInput, HookNames.ResidMid(Layer), HookNames.AttnOut(Layer));
        }
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

    /// <summary>The MLP sub-block from its residual input, without hooks: mlp(ln2(<paramref name="input"/>)).</summary>
    /// <param name="input">the MLP's residual input (resid_mid; resid_pre with a parallel residual) [batch, pos, d_model]</param>
    /// <returns>hook_mlp_out [batch, pos, d_model]</returns>
    internal Tensor MlpBranch(Tensor input) => Mlp is null ? throw new InvalidInputException($"block {Layer} has no MLP (attn_only model)")
        : Mlp.Forward(Ln2!.Forward(input, ForwardContext.None), ForwardContext.None);

    /// <summary>How an edit of <paramref name="hookName"/> (one of this block's hook points, whole positions) reaches
    /// the rest of the model. Sequential: resid_post, mlp_out, mlp.hook_post only through resid_post; resid_mid, attn_out
    /// and z only through resid_mid (the MLP reads it). Parallel or attn_only: attn_out and z too only through
    /// resid_post (nothing in the block reads them).</summary>
    internal ResidualEntry EntryOf(string hookName)
    {
        if (hookName == HookNames.ResidPost(Layer) || hookName == HookNames.MlpOut(Layer) || hookName == Mlp?.PostHook)
            return ResidualEntry.ResidPost;
        if (hookName == HookNames.AttnOut(Layer) || hookName == HookNames.Z(Layer))
            return HasResidMid ? ResidualEntry.ResidMid : ResidualEntry.ResidPost;
        if (hookName == HookNames.ResidMid(Layer) && HasResidMid) return ResidualEntry.ResidMid;
        return ResidualEntry.Inside;
    }

    /// <summary>The rows a unit of <paramref name="hookName"/>'s features is multiplied by before it joins the residual
    /// stream: W_out [d_mlp, d_model] for mlp.hook_post, W_O [n_heads·d_head, d_model] for attn.hook_z; null when the
    /// hook point is itself residual-wide (resid_*, attn_out, mlp_out).</summary>
    internal Tensor? ResidualProjection(string hookName) =>
        hookName == Mlp?.PostHook ? Mlp.W_out : hookName == HookNames.Z(Layer) ? Attn.W_O : null;

    /// <summary>The forward activations <see cref="Backward"/> reads from the cache.</summary>
    /// <param name="parameters">whether parameter gradients are wanted (they also read the components' inputs and outputs)</param>
    internal IEnumerable<string> BackwardHooks(bool parameters)
    {
        var names = new List<string> { HookNames.ResidPre(Layer) };
        if (HasResidMid) names.Add(HookNames.ResidMid(Layer));
        names.AddRange(Attn.BackwardHooks(Ln1.NormalizedHook, parameters));
        if (Mlp is not null) names.AddRange(Mlp.BackwardHooks(Ln2!.NormalizedHook, parameters));
        return names;
    }

    /// <summary>
    /// The block backwards: from d/d hook_resid_post to d/d hook_resid_pre, through the MLP, ln2, attention and ln1 as
    /// the block wires them, reporting every hook gradient the pass keeps and accumulating the parameter gradients it
    /// wants. Gradients of hook points that carry the same value (resid_post and mlp_out; resid_mid and attn_out; with
    /// a parallel residual resid_post, attn_out and mlp_out) share one tensor.
    /// </summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dResidPost">d/d hook_resid_post [batch, pos, d_model]</param>
    /// <returns>d/d hook_resid_pre [batch, pos, d_model]</returns>
    internal Tensor Backward(BackwardPass pass, Tensor dResidPost)
    {
        pass.Put(HookNames.ResidPost(Layer), dResidPost);
        Tensor dAttnOut = dResidPost, dPre;
        if (Mlp is null) dPre = dResidPost.Clone();
        else
        {
            pass.Put(HookNames.MlpOut(Layer), dResidPost);
            var dLn2 = Mlp.Backward(pass, dResidPost, () => Ln2!.OutputOf(pass.Require(Ln2.NormalizedHook)));
            if (ParallelAttnMlp)
            {
                dPre = dResidPost.Clone();
                Ln2!.Backward(pass, HookNames.ResidPre(Layer), dLn2, dPre);
            }
            else
            {
                // resid_post = resid_mid + mlp(ln2(resid_mid))
                var dMid = dResidPost.Clone();
                Ln2!.Backward(pass, HookNames.ResidMid(Layer), dLn2, dMid);
                pass.Put(HookNames.ResidMid(Layer), dMid);
                dAttnOut = dMid;
                dPre = dMid.Clone();
            }
        }
        pass.Put(HookNames.AttnOut(Layer), dAttnOut);
        // resid_mid (or resid_post) = resid_pre + attn(ln1(resid_pre))
        var dLn1 = Attn.Backward(pass, dAttnOut, () => Ln1.OutputOf(pass.Require(Ln1.NormalizedHook)));
        Ln1.Backward(pass, HookNames.ResidPre(Layer), dLn1, dPre);
        pass.Put(HookNames.ResidPre(Layer), dPre);
        return dPre;
    }

    /// <summary>Packs the components' transposed weights for the backward pass (if not held yet).</summary>
    internal void PrepareBackward()
    {
        Attn.BackwardWeights();
        Mlp?.BackwardWeights();
    }

    /// <summary>Whether the components hold backward weights.</summary>
    internal bool HoldsBackwardWeights => Attn.HoldsBackwardWeights || Mlp?.HoldsBackwardWeights == true;

    /// <summary>The block's weights changed in place (a training step): its components pack them again into the
    /// storage they hold (forward and, when held, backward copies).</summary>
    internal void RepackWeights()
    {
        Attn.RepackWeights();
        Mlp?.RepackWeights();
    }

    /// <summary>Drops the components' backward weights.</summary>
    internal void ReleaseBackwardWeights()
    {
        Attn.ReleaseBackwardWeights();
        Mlp?.ReleaseBackwardWeights();
    }
}
