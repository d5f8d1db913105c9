using SharpLens.Model;

namespace SharpLens.Families.Llama;

/// <summary>Llama 2, 3, 3.1, 3.2 (model_type "llama"): <see cref="LlamaLike"/> with optional attention biases
/// (attention_bias), Llama-3 rope scaling, tied or untied output embedding and an explicit head_dim when given.</summary>
internal sealed class LlamaFamily : ModelFamily
{
    /// <inheritdoc/>
    public override string ModelType => "llama";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Architectures => ["LlamaForCausalLM"];

    /// <inheritdoc/>
    public override ModelConfig ReadConfig(HfConfig hf) => LlamaLike.ReadConfig(hf, "LlamaForCausalLM");

    /// <inheritdoc/>
    public override TransformerWeights ReadWeights(ModelConfig config, HfConfig hf, CheckpointTensors tensors)
    {
        bool bias = hf.Bool("attention_bias", false);
        return LlamaLike.ReadWeights(config, hf, tensors, qkvBias: bias, oBias: bias, qkNorm: false);
    }
}
