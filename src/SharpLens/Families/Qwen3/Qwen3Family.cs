using SharpLens.Families.Llama;
using SharpLens.Model;

namespace SharpLens.Families.Qwen3;

/// <summary>Qwen3 (model_type "qwen3"): Qwen2 with an RMSNorm over d_head on every query and key head before the
/// rotation (self_attn.q_norm / k_norm → TransformerLens' attn.q_norm / attn.k_norm, use_qk_norm), an explicit head_dim,
/// and q/k/v/o biases only with attention_bias.</summary>
internal sealed class Qwen3Family : ModelFamily
{
    /// <inheritdoc/>
    public override string ModelType => "qwen3";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Architectures => ["Qwen3ForCausalLM"];

    /// <inheritdoc/>
    public override ModelConfig ReadConfig(HfConfig hf) =>
        Qwen2.Qwen2Family.Windows(hf, LlamaLike.ReadConfig(hf, "Qwen3ForCausalLM")) with { UseQkNorm = true, DefaultPrependBos = false };

    /// <inheritdoc/>
    public override TransformerWeights ReadWeights(ModelConfig config, HfConfig hf, CheckpointTensors tensors)
    {
        bool bias = hf.Bool("attention_bias", false);
        return LlamaLike.ReadWeights(config, hf, tensors, qkvBias: bias, oBias: bias, qkNorm: true);
    }
}
