using SharpLens.Families.Llama;
using SharpLens.Model;

namespace SharpLens.Families.Qwen2;

/// <summary>Qwen2 and Qwen2.5 (model_type "qwen2"): Llama with biases on q/k/v_proj (none on o_proj) and a sliding
/// window only when use_sliding_window is true, on the layers from max_window_layers on (or those config.json's
/// layer_types marks "sliding_attention"), as transformers' Qwen2Config decides.</summary>
internal sealed class Qwen2Family : ModelFamily
{
    /// <inheritdoc/>
    public override string ModelType => "qwen2";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Architectures => ["Qwen2ForCausalLM"];

    /// <inheritdoc/>
    public override ModelConfig ReadConfig(HfConfig hf) => Windows(hf, LlamaLike.ReadConfig(hf, "Qwen2ForCausalLM")) with { DefaultPrependBos = false };

    /// <summary>Qwen's window rule (shared by Qwen3): sliding_window applies only with use_sliding_window, on the layers
    /// layer_types marks "sliding_attention", by default those from max_window_layers on.</summary>
    internal static ModelConfig Windows(HfConfig hf, ModelConfig config)
    {
        int? window = hf.Bool("use_sliding_window", false) ? hf.IntOrNull("sliding_window") : null;
        var types = hf.Strings("layer_types");
        if (types is not null && types.Count != config.NLayers)
            throw hf.Unsupported($"has {types.Count} layer_types for {config.NLayers} layers", "give one per layer");
        int maxWindowLayers = hf.Int("max_window_layers", config.NLayers);
        return LlamaLike.WithWindows(config, window, l => types is null ? l >= maxWindowLayers : types[l] == "sliding_attention");
    }

    /// <inheritdoc/>
    public override TransformerWeights ReadWeights(ModelConfig config, HfConfig hf, CheckpointTensors tensors) =>
        LlamaLike.ReadWeights(config, hf, tensors, qkvBias: true, oBias: false, qkNorm: false);
}
