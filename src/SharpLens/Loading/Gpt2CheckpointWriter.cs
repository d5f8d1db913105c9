using System.Text.Json;
using SharpLens.Families.Gpt2;
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
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), Gpt2WeightMap.ToHuggingFace(config, weights));
    }

    private static string ConfigJson(ModelConfig cfg) => new System.Text.Json.Nodes.JsonObject
    {
        ["activation_function"] = "gelu_new", ["architectures"] = new System.Text.Json.Nodes.JsonArray("GPT2LMHeadModel"), ["model_type"] = "gpt2",
        ["bos_token_id"] = cfg.BosTokenId, ["eos_token_id"] = cfg.BosTokenId, ["layer_norm_epsilon"] = cfg.LayerNormEps,
        ["n_ctx"] = cfg.NCtx, ["n_positions"] = cfg.NCtx, ["n_embd"] = cfg.DModel, ["n_head"] = cfg.NHeads,
        ["n_inner"] = cfg.DMlp, ["n_layer"] = cfg.NLayers, ["vocab_size"] = cfg.DVocab, ["torch_dtype"] = "float32",
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
