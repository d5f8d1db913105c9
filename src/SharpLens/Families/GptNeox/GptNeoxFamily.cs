using SharpLens.Model;
using SharpLens.Tensors;
using static SharpLens.Families.TransformerLensLayout;

namespace SharpLens.Families.GptNeox;

/// <summary>
/// GPT-NeoX and Pythia (model_type "gpt_neox"): LayerNorm with biases, partial rotary (rotary_pct, or
/// partial_rotary_factor in newer configs, of each head; base rotary_emb_base or rope_theta), a parallel residual
/// unless use_parallel_residual is false, a plain MLP (hidden_act, exact gelu for Pythia) and an untied output
/// embedding (embed_out). Weights as TransformerLens' <c>convert_neox_weights</c>: the fused query_key_value rows are
/// ordered (head, q/k/v, d_head).
/// </summary>
internal sealed class GptNeoxFamily : ModelFamily
{
    /// <inheritdoc/>
    public override string ModelType => "gpt_neox";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Architectures => ["GPTNeoXForCausalLM"];

    /// <inheritdoc/>
    public override ModelConfig ReadConfig(HfConfig hf)
    {
        int d = hf.Int("hidden_size"), heads = hf.Int("num_attention_heads");
        if (heads <= 0 || d % heads != 0)
            throw hf.Unsupported($"has hidden_size {d} not divisible by num_attention_heads {heads}", "fix config.json");
        int dHead = d / heads;
        // Newer transformers write partial_rotary_factor and rope_theta beside (or instead of) rotary_pct and rotary_emb_base.
        float pct = hf.FloatOrNull("rotary_pct") ?? hf.Float("partial_rotary_factor", 1f);
        if (!(pct > 0 && pct <= 1)) throw hf.Unsupported($"has rotary_pct {pct}", "it must be in (0, 1]");
        string act = hf.String("hidden_act") ?? "gelu";
        if (!ModelConfig.SupportedActivations.Contains(act))
            throw hf.Unsupported($"has hidden_act '{act}'", $"SharpLens supports {string.Join(", ", ModelConfig.SupportedActivations)}");
        if (hf.Object("rope_scaling") is { } rs && (rs.String("rope_type") ?? rs.String("type")) is { } type && type != "default")
            throw hf.Unsupported($"has rope_scaling type '{type}'", "SharpLens supports GPT-NeoX without rope scaling");
        return new ModelConfig
        {
            NLayers = hf.Int("num_hidden_layers"), DModel = d, NHeads = heads, DHead = dHead, DMlp = hf.Int("intermediate_size", 4 * d),
            DVocab = hf.Int("vocab_size"), NCtx = hf.Int("max_position_embeddings"), LayerNormEps = hf.Float("layer_norm_eps", 1e-5f),
            ActFn = act, PositionalEmbeddingType = "rotary", RotaryDim = (int)(dHead * pct),
            RotaryBase = hf.FloatOrNull("rotary_emb_base") ?? hf.Float("rope_theta", 10000f),
            ParallelAttnMlp = hf.Bool("use_parallel_residual", true), OriginalArchitecture = "GPTNeoXForCausalLM",
            BosTokenId = hf.Int("bos_token_id", 0),
        };
    }

    /// <inheritdoc/>
    public override TransformerWeights ReadWeights(ModelConfig cfg, HfConfig hf, CheckpointTensors t)
    {
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead, dMlp = cfg.DMlp, v = cfg.DVocab;
        string prefix = t.Has("gpt_neox.embed_in.weight") ? "gpt_neox." : "";
        var blocks = new BlockWeights[cfg.NLayers];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            string p = $"{prefix}layers.{l}.";
            var qkv = t.Take(p + "attention.query_key_value.weight", "3 × hidden_size, hidden_size", 3 * d, d);
            var qkvBias = t.Take(p + "attention.query_key_value.bias", "3 × hidden_size", 3 * d);
            blocks[l] = new BlockWeights
            {
                Ln1W = t.Take(p + "input_layernorm.weight", "hidden_size", d), Ln1B = t.Take(p + "input_layernorm.bias", "hidden_size", d),
                W_Q = FusedPart(qkv, 0, h, dh), W_K = FusedPart(qkv, 1, h, dh), W_V = FusedPart(qkv, 2, h, dh),
                b_Q = FusedBias(qkvBias, 0, h, dh), b_K = FusedBias(qkvBias, 1, h, dh), b_V = FusedBias(qkvBias, 2, h, dh),
                W_O = HeadsOut(t.Take(p + "attention.dense.weight", "hidden_size, hidden_size", d, d), h, dh),
                b_O = t.Take(p + "attention.dense.bias", "hidden_size", d),
                Ln2W = t.Take(p + "post_attention_layernorm.weight", "hidden_size", d), Ln2B = t.Take(p + "post_attention_layernorm.bias", "hidden_size", d),
                W_in = Transpose(t.Take(p + "mlp.dense_h_to_4h.weight", "intermediate_size, hidden_size", dMlp, d)),
                b_in = t.Take(p + "mlp.dense_h_to_4h.bias", "intermediate_size", dMlp),
                W_out = Transpose(t.Take(p + "mlp.dense_4h_to_h.weight", "hidden_size, intermediate_size", d, dMlp)),
                b_out = t.Take(p + "mlp.dense_4h_to_h.bias", "hidden_size", d),
            };
        }
        var embed = t.Take(prefix + "embed_in.weight", "vocab_size × hidden_size", v, d);
        var lnW = t.Take(prefix + "final_layer_norm.weight", "hidden_size", d);
        var lnB = t.Take(prefix + "final_layer_norm.bias", "hidden_size", d);
        var head = Llama.LlamaLike.TiedOrLmHead(hf, t, v, d, "embed_out.weight", tiedByDefault: false);
        var weights = new TransformerWeights
        {
            W_E = embed, Blocks = blocks, LnFinalW = lnW, LnFinalB = lnB, W_U = Transpose(head ?? embed), b_U = Zeros(v),
        };
        // Older checkpoints also saved the causal-mask and rotary buffers (attention.bias, masked_bias, rotary_emb.inv_freq).
        t.RequireAllUsed(n => n.EndsWith(".attention.bias", StringComparison.Ordinal) || n.EndsWith(".attention.masked_bias", StringComparison.Ordinal)
            || n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal), "num_hidden_layers, hidden_size, intermediate_size, tie_word_embeddings");
        return weights;
    }

    // query_key_value.weight [3·d, d] with rows ordered (head, q/k/v, d_head) → one of W_Q/W_K/W_V [heads, d, d_head].
    private static Tensor FusedPart(Tensor fused, int which, int heads, int dHead)
    {
        int d = fused.Dim(1);
        var w = Tensor.ZerosLongLived(heads, d, dHead);
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < dHead; j++)
            {
                var row = fused.Data.AsSpan(((h * 3 + which) * dHead + j) * d, d);
                for (int i = 0; i < d; i++) w.Data[(h * d + i) * dHead + j] = row[i];
            }
        return w;
    }

    private static Tensor FusedBias(Tensor fused, int which, int heads, int dHead)
    {
        var b = Tensor.ZerosLongLived(heads, dHead);
        for (int h = 0; h < heads; h++) fused.Data.AsSpan((h * 3 + which) * dHead, dHead).CopyTo(b.Data.AsSpan(h * dHead));
        return b;
    }
}
