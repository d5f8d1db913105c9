using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Families.Gpt2;

public static partial class Gpt2WeightMap
{
    /// <summary>
    /// The inverse of <see cref="Convert"/>: unprocessed TransformerLens-named weights as Hugging Face GPT-2 tensors
    /// (<c>wte.weight</c>, <c>h.L.attn.c_attn.weight</c> [d_model, 3·d_model] = [W_Q | W_K | W_V] head-major, ...), with
    /// no <c>lm_head.weight</c>: GPT-2 ties it to <c>wte.weight</c>, so the caller's W_U must be W_Eᵀ and b_U zero.
    /// An attn_only model (no MLPs) is written with one-neuron MLPs of zeros and ln_2 = (1, 0), which add exactly
    /// nothing, so Hugging Face's GPT-2 computes the same outputs; config.json then says n_inner 1.
    /// </summary>
    /// <param name="cfg">the model's shape; n_heads·d_head must equal d_model (GPT-2's c_attn is d_model wide)</param>
    /// <param name="w">unprocessed weights (LayerNorm weights present)</param>
    /// <exception cref="InvalidInputException">the shape or weights cannot be written in GPT-2's layout</exception>
    public static IEnumerable<(string Name, Tensor Tensor)> ToHuggingFace(ModelConfig cfg, TransformerWeights w)
    {
        int d = cfg.DModel, dh = cfg.DHead;
        if (cfg.NHeads * dh != d)
            throw new InvalidInputException($"n_heads {cfg.NHeads} x d_head {dh} = {cfg.NHeads * dh} is not d_model {d}: GPT-2's layout cannot hold this model; leave d_head out (d_model / n_heads)");
        if (w.LnFinalW is null || w.Blocks.Any(b => b.Ln1W is null || (b.Ln2W is null && b.W_in is not null)))
            throw new InvalidInputException("the weights are processed (LayerNorm folded): GPT-2's layout needs the unprocessed weights");
        if (w.W_pos is null) throw new InvalidInputException("the model has no learned positions (W_pos): GPT-2's layout cannot hold it");
        Tensor Zeros(params int[] shape) => Tensor.ZerosLongLived(shape);
        Tensor Ones(int n) { var t = Tensor.ZerosLongLived(n); Array.Fill(t.Data, 1f); return t; }
        var result = new List<(string, Tensor)> { ("wte.weight", w.W_E), ("wpe.weight", w.W_pos) };
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var b = w.Blocks[l];
            string p = $"h.{l}.";
            var cAttn = Tensor.ZerosLongLived(d, 3 * d);
            var cAttnBias = Tensor.ZerosLongLived(3 * d);
            Tensor[] weights = [b.W_Q, b.W_K, b.W_V], biases = [b.b_Q, b.b_K, b.b_V];
            for (int part = 0; part < 3; part++)
                for (int h = 0; h < cfg.NHeads; h++)
                {
                    // c_attn's columns are [q | k | v], each head-major: column = part·d + head·d_head + j.
                    int col0 = part * d + h * dh;
                    biases[part].Data.AsSpan(h * dh, dh).CopyTo(cAttnBias.Data.AsSpan(col0));
                    for (int i = 0; i < d; i++)
                        weights[part].Data.AsSpan((h * d + i) * dh, dh).CopyTo(cAttn.Data.AsSpan(i * 3 * d + col0));
                }
            result.Add((p + "ln_1.weight", b.Ln1W!));
            result.Add((p + "ln_1.bias", b.Ln1B!));
            result.Add((p + "attn.c_attn.weight", cAttn));
            result.Add((p + "attn.c_attn.bias", cAttnBias));
            result.Add((p + "attn.c_proj.weight", b.W_O.Reshape(d, d)));
            result.Add((p + "attn.c_proj.bias", b.b_O));
            bool mlp = b.W_in is not null;
            result.Add((p + "ln_2.weight", mlp ? b.Ln2W! : Ones(d)));
            result.Add((p + "ln_2.bias", mlp ? b.Ln2B! : Zeros(d)));
            result.Add((p + "mlp.c_fc.weight", mlp ? b.W_in! : Zeros(d, 1)));
            result.Add((p + "mlp.c_fc.bias", mlp ? b.b_in! : Zeros(1)));
            result.Add((p + "mlp.c_proj.weight", mlp ? b.W_out! : Zeros(1, d)));
            result.Add((p + "mlp.c_proj.bias", mlp ? b.b_out! : Zeros(d)));
        }
        result.Add(("ln_f.weight", w.LnFinalW!));
        result.Add(("ln_f.bias", w.LnFinalB!));
        return result;
    }
}
