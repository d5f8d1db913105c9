using SharpLens.Model;

namespace SharpLens.Circuits;

/// <summary>
/// TransformerLens' <c>ungroup_grouped_query_attention</c> view of a grouped-query model, which EAP-IG requires for
/// such models (its <c>attribute</c> asserts the flag): every query head gets its own copy of its group's key and value
/// weights, so each query head's k and v inputs — edges of the circuit graph — are separate activations
/// (hook_k / hook_v become [batch, pos, n_heads, d_head]). The forward pass is the same function, so logits and every
/// node output are unchanged; only where a gradient or a patch lands differs (per query head instead of per group).
/// </summary>
internal static class UngroupedAttention
{
    /// <summary><paramref name="model"/> itself without grouped-query attention; otherwise a model over the same
    /// parameters except W_K, W_V, b_K, b_V, which are repeated per query head (n_heads / n_key_value_heads times the
    /// key/value weight memory).</summary>
    public static HookedTransformer Of(HookedTransformer model)
    {
        var cfg = model.Config;
        if (cfg.KeyValueHeads == cfg.NHeads) return model;
        var w = model.Weights;
        var weights = new TransformerWeights
        {
            W_E = w.W_E, W_pos = w.W_pos, LnFinalW = w.LnFinalW, LnFinalB = w.LnFinalB, W_U = w.W_U, b_U = w.b_U,
            Blocks = w.Blocks.Select(b => new BlockWeights
            {
                Ln1W = b.Ln1W, Ln1B = b.Ln1B, W_Q = b.W_Q, b_Q = b.b_Q, W_O = b.W_O, b_O = b.b_O,
                W_K = BlockWeights.QueryHeadView(b.W_K, cfg.NHeads), W_V = BlockWeights.QueryHeadView(b.W_V, cfg.NHeads),
                b_K = BlockWeights.QueryHeadView(b.b_K, cfg.NHeads), b_V = BlockWeights.QueryHeadView(b.b_V, cfg.NHeads),
                QNormW = b.QNormW, KNormW = b.KNormW, Ln2W = b.Ln2W, Ln2B = b.Ln2B,
                W_in = b.W_in, W_gate = b.W_gate, b_in = b.b_in, W_out = b.W_out, b_out = b.b_out,
            }).ToArray(),
        };
        return new HookedTransformer(cfg with { NKeyValueHeads = null }, weights, model.WeightsProcessed, model.Tokenizer);
    }
}
