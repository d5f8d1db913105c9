using System.Text.Json;
using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Loading;

/// <summary>
/// Writes raw (unprocessed) GPT-2 weights as a Hugging Face checkpoint folder: <c>config.json</c> and
/// <c>model.safetensors</c> with <c>GPT2LMHeadModel</c>'s keys (the inverse of the loader's map), so that a model made
/// in memory can be loaded, benchmarked as a whole command or exported like a downloaded one.
/// </summary>
public static class Gpt2CheckpointWriter
{
    /// <summary>Writes <paramref name="weights"/> of shape <paramref name="config"/> into <paramref name="folder"/>
    /// (created if needed); the unembedding is tied to the embedding, as GPT-2's is.</summary>
    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="config">The model's shape.</param>
    /// <param name="weights">Raw weights in TransformerLens' names, LayerNorm weights not folded.</param>
    /// <exception cref="ArgumentException">The model is not GPT-2-shaped, or a LayerNorm weight was folded away (processed
    /// weights cannot be written back).</exception>
    public static void Write(string folder, ModelConfig config, TransformerWeights weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        if (config.GatedMlp || config.UsesRmsNorm || config.KeyValueHeads != config.NHeads || weights.W_pos is null)
            throw new ArgumentException("only a GPT-2-shaped model (LayerNorm, learned positions, a plain MLP, one key/value head per head) can be written as a GPT-2 checkpoint", nameof(config));
        if (weights.LnFinalW is null || weights.Blocks.Any(b => b.Ln1W is null || b.Ln2W is null))
            throw new ArgumentException("the weights' LayerNorms are folded: write the raw weights (RandomWeights.Create, ModelLoader.LoadRawWeights)", nameof(weights));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(config));
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), HuggingFaceTensors(config, weights));
    }

    private static string ConfigJson(ModelConfig cfg) => new System.Text.Json.Nodes.JsonObject
    {
        ["activation_function"] = "gelu_new", ["architectures"] = new System.Text.Json.Nodes.JsonArray("GPT2LMHeadModel"), ["model_type"] = "gpt2",
        ["bos_token_id"] = cfg.BosTokenId, ["eos_token_id"] = cfg.BosTokenId, ["layer_norm_epsilon"] = cfg.LayerNormEps,
        ["n_ctx"] = cfg.NCtx, ["n_positions"] = cfg.NCtx, ["n_embd"] = cfg.DModel, ["n_head"] = cfg.NHeads,
        ["n_inner"] = cfg.DMlp, ["n_layer"] = cfg.NLayers, ["vocab_size"] = cfg.DVocab, ["torch_dtype"] = "float32",
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>TransformerLens-named raw weights under Hugging Face GPT-2 keys (q, k and v fused back into c_attn).</summary>
    private static IEnumerable<(string, Tensor)> HuggingFaceTensors(ModelConfig cfg, TransformerWeights w)
    {
        int d = cfg.DModel;
        yield return ("wte.weight", w.W_E);
        yield return ("wpe.weight", w.W_pos!);
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var b = w.Blocks[l];
            string p = $"h.{l}.";
            var cAttn = Tensor.Zeros(d, 3 * d);
            var cAttnBias = Tensor.Zeros(3 * d);
            Tensor[] parts = [b.W_Q, b.W_K, b.W_V], biases = [b.b_Q, b.b_K, b.b_V];
            for (int part = 0; part < 3; part++)
            {
                // c_attn's columns are [q | k | v], each head-major: column = part * d + head * d_head + j.
                for (int h = 0; h < cfg.NHeads; h++)
                    for (int j = 0; j < cfg.DHead; j++)
                    {
                        int col = part * d + h * cfg.DHead + j;
                        cAttnBias.Data[col] = biases[part][h, j];
                        for (int i = 0; i < d; i++) cAttn.Data[i * 3 * d + col] = parts[part][h, i, j];
                    }
            }
            yield return (p + "ln_1.weight", b.Ln1W!);
            yield return (p + "ln_1.bias", b.Ln1B!);
            yield return (p + "attn.c_attn.weight", cAttn);
            yield return (p + "attn.c_attn.bias", cAttnBias);
            yield return (p + "attn.c_proj.weight", b.W_O.Reshape(d, d));
            yield return (p + "attn.c_proj.bias", b.b_O);
            yield return (p + "ln_2.weight", b.Ln2W!);
            yield return (p + "ln_2.bias", b.Ln2B!);
            yield return (p + "mlp.c_fc.weight", b.W_in!);
            yield return (p + "mlp.c_fc.bias", b.b_in!);
            yield return (p + "mlp.c_proj.weight", b.W_out!);
            yield return (p + "mlp.c_proj.bias", b.b_out!);
        }
        yield return ("ln_f.weight", w.LnFinalW!);
        yield return ("ln_f.bias", w.LnFinalB!);
    }
}
