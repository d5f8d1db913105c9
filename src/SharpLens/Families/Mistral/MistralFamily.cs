using SharpLens.Families.Llama;
using SharpLens.Model;

namespace SharpLens.Families.Mistral;

/// <summary>Mistral (model_type "mistral"): Llama with a sliding window on every layer (config.json's sliding_window;
/// null means none). A query attends to keys k with q − k &lt; sliding_window, as transformers' current masking does.</summary>
internal sealed class MistralFamily : ModelFamily
{
    /// <inheritdoc/>
    public override string ModelType => "mistral";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Architectures => ["MistralForCausalLM"];

    /// <inheritdoc/>
    public override ModelConfig ReadConfig(HfConfig hf) =>
        LlamaLike.WithWindows(LlamaLike.ReadConfig(hf, "MistralForCausalLM"), hf.IntOrNull("sliding_window"), _ => true);

    /// <inheritdoc/>
    public override TransformerWeights ReadWeights(ModelConfig config, HfConfig hf, CheckpointTensors tensors) =>
        LlamaLike.ReadWeights(config, hf, tensors, qkvBias: false, oBias: false, qkNorm: false);
}
