using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>
/// All parameters in TransformerLens' names and shapes (the Mathematical Framework paper's notation).
/// Norm weights are null after fold_ln (the norms then only centre and scale: LNPre / RMSNormPre).
/// </summary>
public sealed class TransformerWeights
{
    /// <summary>[d_vocab, d_model]</summary>
    public required Tensor W_E { get; set; }
    /// <summary>[n_ctx, d_model] learned positions, or null for rotary models.</summary>
    public Tensor? W_pos { get; set; }
    /// <summary>One entry per transformer block (blocks.l.*).</summary>
    public required BlockWeights[] Blocks { get; init; }
    /// <summary>[d_model] or null when folded.</summary>
    public Tensor? LnFinalW { get; set; }
    /// <summary>[d_model] or null when folded or RMSNorm.</summary>
    public Tensor? LnFinalB { get; set; }
    /// <summary>[d_model, d_vocab]</summary>
    public required Tensor W_U { get; set; }
    /// <summary>[d_vocab]</summary>
    public required Tensor b_U { get; set; }

    /// <summary>A deep copy of every parameter.</summary>
    public TransformerWeights Clone() => new()
    {
        W_E = W_E.Clone(), W_pos = W_pos?.Clone(), Blocks = Blocks.Select(b => b.Clone()).ToArray(),
        LnFinalW = LnFinalW?.Clone(), LnFinalB = LnFinalB?.Clone(), W_U = W_U.Clone(), b_U = b_U.Clone(),
    };

    /// <summary>Every parameter with its TransformerLens state-dict name (e.g. "blocks.0.attn.W_Q"), in state-dict order.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Named()
    {
        yield return ("embed.W_E", W_E);
        if (W_pos is not null) yield return ("pos_embed.W_pos", W_pos);
        for (int l = 0; l < Blocks.Length; l++)
            foreach (var (n, t) in Blocks[l].Named()) yield return ($"blocks.{l}.{n}", t);
        if (LnFinalW is not null) yield return ("ln_final.w", LnFinalW);
        if (LnFinalB is not null) yield return ("ln_final.b", LnFinalB);
        yield return ("unembed.W_U", W_U);
        yield return ("unembed.b_U", b_U);
    }
}

/// <summary>One transformer block's parameters; shapes in TransformerLens convention. With grouped-query attention
/// W_K, W_V, b_K and b_V hold the n_key_value_heads key/value heads (TransformerLens' <c>_W_K</c> ...; see
/// <see cref="QueryHeadView"/> for the per-query-head view).</summary>
public sealed class BlockWeights
{
    /// <summary>[d_model] ln1.w, or null when folded.</summary>
    public Tensor? Ln1W { get; set; }
    /// <summary>[d_model] ln1.b, or null when folded or RMSNorm.</summary>
    public Tensor? Ln1B { get; set; }
    /// <summary>[n_heads, d_model, d_head]</summary>
    public required Tensor W_Q { get; set; }
    /// <summary>[n_key_value_heads, d_model, d_head] (n_key_value_heads = n_heads without grouped-query attention)</summary>
    public required Tensor W_K { get; set; }
    /// <summary>[n_key_value_heads, d_model, d_head]</summary>
    public required Tensor W_V { get; set; }
    /// <summary>[n_heads, d_head]</summary>
    public required Tensor b_Q { get; set; }
    /// <summary>[n_key_value_heads, d_head]</summary>
    public required Tensor b_K { get; set; }
    /// <summary>[n_key_value_heads, d_head]</summary>
    public required Tensor b_V { get; set; }
    /// <summary>[n_heads, d_head, d_model]</summary>
    public required Tensor W_O { get; set; }
    /// <summary>[d_model]</summary>
    public required Tensor b_O { get; set; }
    /// <summary>[d_head] attn.q_norm.w (use_qk_norm), or null.</summary>
    public Tensor? QNormW { get; set; }
    /// <summary>[d_head] attn.k_norm.w (use_qk_norm), or null.</summary>
    public Tensor? KNormW { get; set; }
    /// <summary>[d_model] ln2.w, or null when folded (or attn_only).</summary>
    public Tensor? Ln2W { get; set; }
    /// <summary>[d_model] ln2.b, or null when folded, RMSNorm or attn_only.</summary>
    public Tensor? Ln2B { get; set; }
    /// <summary>[d_model, d_mlp] (the linear branch of a gated MLP); null for attn_only.</summary>
    public Tensor? W_in { get; set; }
    /// <summary>[d_model, d_mlp] the gate of a gated MLP, or null.</summary>
    public Tensor? W_gate { get; set; }
    /// <summary>[d_mlp]; null for attn_only.</summary>
    public Tensor? b_in { get; set; }
    /// <summary>[d_mlp, d_model]; null for attn_only.</summary>
    public Tensor? W_out { get; set; }
    /// <summary>[d_model]; null for attn_only.</summary>
    public Tensor? b_out { get; set; }

    /// <summary>Whether keys and values have fewer heads than queries (grouped-query attention).</summary>
    public bool GroupedQuery => W_K.Dim(0) != W_Q.Dim(0);

    /// <summary>A deep copy of every parameter of the block.</summary>
    public BlockWeights Clone() => new()
    {
        Ln1W = Ln1W?.Clone(), Ln1B = Ln1B?.Clone(), W_Q = W_Q.Clone(), W_K = W_K.Clone(), W_V = W_V.Clone(),
        b_Q = b_Q.Clone(), b_K = b_K.Clone(), b_V = b_V.Clone(), W_O = W_O.Clone(), b_O = b_O.Clone(),
        QNormW = QNormW?.Clone(), KNormW = KNormW?.Clone(), Ln2W = Ln2W?.Clone(), Ln2B = Ln2B?.Clone(),
        W_in = W_in?.Clone(), W_gate = W_gate?.Clone(), b_in = b_in?.Clone(), W_out = W_out?.Clone(), b_out = b_out?.Clone(),
    };

    /// <summary>Every parameter of the block with its TransformerLens state-dict name inside the block (e.g. "attn.W_Q";
    /// "attn._W_K" for grouped-query key/value weights, as TransformerLens names them); absent ones are left out.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Named()
    {
        string kv = GroupedQuery ? "_" : "";
        if (Ln1W is not null) yield return ("ln1.w", Ln1W);
        if (Ln1B is not null) yield return ("ln1.b", Ln1B);
        yield return ("attn.W_Q", W_Q); yield return ($"attn.{kv}W_K", W_K); yield return ($"attn.{kv}W_V", W_V);
        yield return ("attn.W_O", W_O);
        yield return ("attn.b_Q", b_Q); yield return ($"attn.{kv}b_K", b_K); yield return ($"attn.{kv}b_V", b_V);
        yield return ("attn.b_O", b_O);
        if (QNormW is not null) yield return ("attn.q_norm.w", QNormW);
        if (KNormW is not null) yield return ("attn.k_norm.w", KNormW);
        if (Ln2W is not null) yield return ("ln2.w", Ln2W);
        if (Ln2B is not null) yield return ("ln2.b", Ln2B);
        if (W_in is not null) yield return ("mlp.W_in", W_in);
        if (W_gate is not null) yield return ("mlp.W_gate", W_gate);
        if (b_in is not null) yield return ("mlp.b_in", b_in);
        if (W_out is not null) yield return ("mlp.W_out", W_out);
        if (b_out is not null) yield return ("mlp.b_out", b_out);
    }

    /// <summary>
    /// A key/value parameter seen per query head, as TransformerLens' <c>W_K</c> / <c>W_V</c> / <c>b_K</c> / <c>b_V</c>
    /// properties show it (repeat_interleave over the head axis): query head h reads key/value head
    /// h / (n_heads / n_key_value_heads). Without grouped-query attention it returns <paramref name="kvParameter"/> itself.
    /// </summary>
    /// <param name="kvParameter">W_K or W_V [n_key_value_heads, d_model, d_head], or b_K or b_V [n_key_value_heads, d_head]</param>
    /// <param name="nHeads">n_heads (query heads)</param>
    /// <returns>[n_heads, d_model, d_head] or [n_heads, d_head]</returns>
    public static Tensor QueryHeadView(Tensor kvParameter, int nHeads)
    {
        int kvHeads = kvParameter.Dim(0);
        if (kvHeads == nHeads) return kvParameter;
        if (nHeads % kvHeads != 0) throw new ShapeMismatchException($"{nHeads} query heads cannot share {kvHeads} key/value heads evenly");
        int group = nHeads / kvHeads, per = kvParameter.Length / kvHeads;
        var shape = kvParameter.Shape.ToArray();
        shape[0] = nHeads;
        var view = Tensor.Uninitialized(shape);
        for (int h = 0; h < nHeads; h++) kvParameter.Data.AsSpan(h / group * per, per).CopyTo(view.Data.AsSpan(h * per));
        return view;
    }
}
