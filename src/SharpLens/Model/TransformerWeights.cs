using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>
/// All parameters in TransformerLens' names and shapes (the Mathematical Framework paper's notation).
/// LayerNorm weights are null after fold_ln (the LayerNorm then only centres and scales: LNPre).
/// </summary>
public sealed class TransformerWeights
{
    /// <summary>[d_vocab, d_model]</summary>
    public required Tensor W_E { get; set; }
    /// <summary>[n_ctx, d_model]</summary>
    public required Tensor W_pos { get; set; }
    /// <summary>One entry per transformer block (blocks.l.*).</summary>
    public required BlockWeights[] Blocks { get; init; }
    /// <summary>[d_model] or null when folded.</summary>
    public Tensor? LnFinalW { get; set; }
    /// <summary>[d_model] or null when folded.</summary>
    public Tensor? LnFinalB { get; set; }
    /// <summary>[d_model, d_vocab]</summary>
    public required Tensor W_U { get; set; }
    /// <summary>[d_vocab]</summary>
    public required Tensor b_U { get; set; }

    /// <summary>A deep copy of every parameter.</summary>
    public TransformerWeights Clone() => new()
    {
        W_E = W_E.Clone(), W_pos = W_pos.Clone(), Blocks = Blocks.Select(b => b.Clone()).ToArray(),
        LnFinalW = LnFinalW?.Clone(), LnFinalB = LnFinalB?.Clone(), W_U = W_U.Clone(), b_U = b_U.Clone(),
    };

    /// <summary>Every parameter with its TransformerLens state-dict name (e.g. "blocks.0.attn.W_Q").</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Named()
    {
        yield return ("embed.W_E", W_E);
        yield return ("pos_embed.W_pos", W_pos);
        for (int l = 0; l < Blocks.Length; l++)
            foreach (var (n, t) in Blocks[l].Named()) yield return ($"blocks.{l}.{n}", t);
        if (LnFinalW is not null) yield return ("ln_final.w", LnFinalW);
        if (LnFinalB is not null) yield return ("ln_final.b", LnFinalB);
        yield return ("unembed.W_U", W_U);
        yield return ("unembed.b_U", b_U);
    }
}

/// <summary>One transformer block's parameters; shapes in TransformerLens convention.</summary>
public sealed class BlockWeights
{
    /// <summary>[d_model] ln1.w, or null when folded.</summary>
    public Tensor? Ln1W { get; set; }
    /// <summary>[d_model] ln1.b, or null when folded.</summary>
    public Tensor? Ln1B { get; set; }
    /// <summary>[n_heads, d_model, d_head]</summary>
    public required Tensor W_Q { get; set; }
    /// <summary>[n_heads, d_model, d_head]</summary>
    public required Tensor W_K { get; set; }
    /// <summary>[n_heads, d_model, d_head]</summary>
    public required Tensor W_V { get; set; }
    /// <summary>[n_heads, d_head]</summary>
    public required Tensor b_Q { get; set; }
    /// <summary>[n_heads, d_head]</summary>
    public required Tensor b_K { get; set; }
    /// <summary>[n_heads, d_head]</summary>
    public required Tensor b_V { get; set; }
    /// <summary>[n_heads, d_head, d_model]</summary>
    public required Tensor W_O { get; set; }
    /// <summary>[d_model]</summary>
    public required Tensor b_O { get; set; }
    /// <summary>[d_model] ln2.w, or null when folded.</summary>
    public Tensor? Ln2W { get; set; }
    /// <summary>[d_model] ln2.b, or null when folded.</summary>
    public Tensor? Ln2B { get; set; }
    /// <summary>[d_model, d_mlp]</summary>
    public required Tensor W_in { get; set; }
    /// <summary>[d_mlp]</summary>
    public required Tensor b_in { get; set; }
    /// <summary>[d_mlp, d_model]</summary>
    public required Tensor W_out { get; set; }
    /// <summary>[d_model]</summary>
    public required Tensor b_out { get; set; }

    /// <summary>A deep copy of every parameter of the block.</summary>
    public BlockWeights Clone() => new()
    {
        Ln1W = Ln1W?.Clone(), Ln1B = Ln1B?.Clone(), W_Q = W_Q.Clone(), W_K = W_K.Clone(), W_V = W_V.Clone(),
        b_Q = b_Q.Clone(), b_K = b_K.Clone(), b_V = b_V.Clone(), W_O = W_O.Clone(), b_O = b_O.Clone(),
        Ln2W = Ln2W?.Clone(), Ln2B = Ln2B?.Clone(), W_in = W_in.Clone(), b_in = b_in.Clone(),
        W_out = W_out.Clone(), b_out = b_out.Clone(),
    };

    /// <summary>Every parameter of the block with its name inside the block (e.g. "attn.W_Q"); folded ones are left out.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Named()
    {
        if (Ln1W is not null) yield return ("ln1.w", Ln1W);
        if (Ln1B is not null) yield return ("ln1.b", Ln1B);
        yield return ("attn.W_Q", W_Q); yield return ("attn.W_K", W_K); yield return ("attn.W_V", W_V);
        yield return ("attn.W_O", W_O);
        yield return ("attn.b_Q", b_Q); yield return ("attn.b_K", b_K); yield return ("attn.b_V", b_V);
        yield return ("attn.b_O", b_O);
        if (Ln2W is not null) yield return ("ln2.w", Ln2W);
        if (Ln2B is not null) yield return ("ln2.b", Ln2B);
        yield return ("mlp.W_in", W_in); yield return ("mlp.b_in", b_in);
        yield return ("mlp.W_out", W_out); yield return ("mlp.b_out", b_out);
    }
}
