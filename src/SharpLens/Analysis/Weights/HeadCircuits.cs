using SharpLens.Model;

namespace SharpLens.Analysis.Weights;

/// <summary>
/// A head's weight circuits as <see cref="FactoredMatrix"/> values, in TransformerLens' row-vector convention
/// (a residual row x is read as x·W): <c>model.OV</c>, <c>model.QK</c> and the full circuits through the embedding and
/// unembedding of "A Mathematical Framework for Transformer Circuits". They use the model's weights as loaded, so with
/// TransformerLens' default processing (fold_ln, centring) they equal what TransformerLens computes from
/// <c>from_pretrained</c>. Biases are not part of these circuits. With grouped-query attention a query head reads its
/// group's key/value head (TransformerLens' repeat_interleaved <c>W_K</c>/<c>W_V</c>); with rotary positions QK is the
/// position-free form W_Q·W_Kᵀ, which ignores the rotation (as TransformerLens' <c>model.QK</c>): the real score between
/// positions i and j also rotates by i − j.
/// </summary>
public static class HeadCircuits
{
    /// <summary>OV = W_V[l, h]·W_O[l, h] [d_model, d_model] (rank ≤ d_head): what the head writes for each direction it reads.</summary>
    public static FactoredMatrix OV(HookedTransformer model, int layer, int head)
    {
        WeightMatrices.RequireHead(model, layer, head);
        var w = model.Weights.Blocks[layer];
        int d = model.Config.DModel, dh = model.Config.DHead;
        return new FactoredMatrix(WeightMatrices.FromRowMajor(w.W_V.Slice(KeyValueHead(model, head)), d, dh), WeightMatrices.FromRowMajor(w.W_O.Slice(head), dh, d));
    }

    /// <summary>QK = W_Q[l, h]·W_K[l, h]ᵀ [d_model, d_model]: the bilinear form query-side residual × key-side residual
    /// whose value (over √d_head) is the attention score.</summary>
    public static FactoredMatrix QK(HookedTransformer model, int layer, int head)
    {
        WeightMatrices.RequireHead(model, layer, head);
        var w = model.Weights.Blocks[layer];
        int d = model.Config.DModel, dh = model.Config.DHead;
        return new FactoredMatrix(WeightMatrices.FromRowMajor(w.W_Q.Slice(head), d, dh),
            WeightMatrices.FromRowMajor(w.W_K.Slice(KeyValueHead(model, head)), d, dh).Transpose());
    }

    /// <summary>
    /// The full OV circuit W_E·W_V·W_O·W_U [d_vocab, d_vocab]: row s is the direct effect on every output logit of the
    /// head attending (with weight 1) to a token s, read straight from the embedding (TransformerLens'
    /// <c>model.W_E @ model.OV @ model.W_U</c>). Factored as (W_E·W_V)·(W_O·W_U), inner dimension d_head; the two
    /// vocabulary-sized products run on the float GEMM.
    /// </summary>
    public static FactoredMatrix FullOV(HookedTransformer model, int layer, int head)
    {
        WeightMatrices.RequireHead(model, layer, head);
        var w = model.Weights.Blocks[layer];
        var cfg = model.Config;
        int d = cfg.DModel, dh = cfg.DHead, vocab = cfg.DVocab;
        var left = WeightMatrices.Product(model.Weights.W_E.Data, vocab, d, w.W_V.Slice(KeyValueHead(model, head)), dh);
        var right = WeightMatrices.Product(w.W_O.Slice(head), dh, d, model.Weights.W_U.Data, vocab);
        return new FactoredMatrix(left, right);
    }

    /// <summary>The full QK circuit W_E·W_Q·W_Kᵀ·W_Eᵀ [d_vocab (query token), d_vocab (key token)]: the attention score
    /// (times √d_head) between two bare token embeddings, as TransformerLens' <c>model.W_E @ model.QK @ model.W_E.T</c>.</summary>
    public static FactoredMatrix FullQK(HookedTransformer model, int layer, int head)
    {
        WeightMatrices.RequireHead(model, layer, head);
        var w = model.Weights.Blocks[layer];
        var cfg = model.Config;
        int d = cfg.DModel, dh = cfg.DHead, vocab = cfg.DVocab;
        var left = WeightMatrices.Product(model.Weights.W_E.Data, vocab, d, w.W_Q.Slice(head), dh);
        var keys = WeightMatrices.Product(model.Weights.W_E.Data, vocab, d, w.W_K.Slice(KeyValueHead(model, head)), dh);
        return new FactoredMatrix(left, keys.Transpose());
    }

    // The key/value head query head `head` reads: head / (n_heads / n_key_value_heads).
    private static int KeyValueHead(HookedTransformer model, int head) => head / (model.Config.NHeads / model.Config.KeyValueHeads);
}
