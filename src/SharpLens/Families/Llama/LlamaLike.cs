using SharpLens.Model;
using SharpLens.Tensors;
using static SharpLens.Families.TransformerLensLayout;

namespace SharpLens.Families.Llama;

/// <summary>
/// What Llama, Mistral, Qwen2 and Qwen3 share (Hugging Face's modular_*.py defines each as Llama plus a difference):
/// RMSNorm, rotary positions, grouped-query attention, a gated silu MLP, the keys <c>model.layers.{l}.self_attn.q_proj</c>
/// ... and TransformerLens' conversion of them (<c>convert_llama_weights</c> and its copies). Each family passes what it
/// changes: attention biases, q/k norms, windows.
/// </summary>
internal static class LlamaLike
{
    /// <summary>The configuration every Llama-like config.json gives (hidden_size, num_attention_heads,
    /// num_key_value_heads, head_dim, intermediate_size, rms_norm_eps, rope_theta, rope_scaling, hidden_act,
    /// max_position_embeddings, vocab_size, bos_token_id); the family adds windows and q/k norm.</summary>
    public static ModelConfig ReadConfig(HfConfig hf, string architecture)
    {
        int d = hf.Int("hidden_size"), heads = hf.Int("num_attention_heads");
        if (heads <= 0 || d <= 0) throw hf.Unsupported($"has hidden_size {d} and num_attention_heads {heads}", "both must be positive");
        int? headDim = hf.IntOrNull("head_dim");
        if (headDim is null && d % heads != 0)
            throw hf.Unsupported($"has hidden_size {d} not divisible by num_attention_heads {heads} and no head_dim", "give head_dim");
        string act = hf.String("hidden_act") ?? "silu";
        if (act is not ("silu" or "gelu" or "gelu_new" or "gelu_pytorch_tanh" or "relu"))
            throw hf.Unsupported($"has hidden_act '{act}'", $"SharpLens supports {string.Join(", ", ModelConfig.SupportedActivations)}");
        if (hf.Bool("mlp_bias", false))
            throw hf.Unsupported("sets mlp_bias true", "biases on gate_proj/up_proj have no place in TransformerLens' gated MLP (b_in is added after the product); such checkpoints are not supported");
        var config = new ModelConfig
        {
            NLayers = hf.Int("num_hidden_layers"), DModel = d, NHeads = heads, DHead = headDim ?? d / heads,
            NKeyValueHeads = hf.IntOrNull("num_key_value_heads") is int kv && kv != heads ? kv : null,
            DMlp = hf.Int("intermediate_size"), DVocab = hf.Int("vocab_size"), NCtx = hf.Int("max_position_embeddings"),
            LayerNormEps = hf.Float("rms_norm_eps", 1e-6f), ActFn = act, NormalizationType = "RMS", PositionalEmbeddingType = "rotary",
            RotaryBase = hf.Float("rope_theta", 10000f), GatedMlp = true, OriginalArchitecture = architecture,
            BosTokenId = hf.Int("bos_token_id", 1),
        };
        return WithRopeScaling(config, hf);
    }

    /// <summary>rope_scaling: none, "default", or "llama3" (Llama 3.1/3.2's frequency scaling, TransformerLens'
    /// use_NTK_by_parts_rope); any other kind is refused naming the supported ones.</summary>
    private static ModelConfig WithRopeScaling(ModelConfig config, HfConfig hf)
    {
        if (hf.Object("rope_scaling") is not { } rs) return config;
        string? type = rs.String("rope_type") ?? rs.String("type");
        if (type is null or "default") return config;
        if (type != "llama3")
            throw hf.Unsupported($"has rope_scaling type '{type}'", "SharpLens supports rope_scaling of type llama3 (or none)");
        return config with
        {
            UseNtkByPartsRope = true, NtkByPartsFactor = rs.Float("factor", 8f), NtkByPartsLowFreqFactor = rs.Float("low_freq_factor", 1f),
            NtkByPartsHighFreqFactor = rs.Float("high_freq_factor", 4f), NtkOriginalCtxLen = rs.Int("original_max_position_embeddings", 8192),
        };
    }

    /// <summary>Windows per layer: <paramref name="window"/> on the layers <paramref name="local"/> picks (Mistral: all;
    /// Qwen: from max_window_layers on, or config.json's layer_types), none when <paramref name="window"/> is null.</summary>
    public static ModelConfig WithWindows(ModelConfig config, int? window, Func<int, bool> local)
    {
        if (window is not int w) return config;
        var types = Enumerable.Range(0, config.NLayers).Select(l => local(l) ? "local" : "global").ToArray();
        return types.Contains("local") ? config with { UseLocalAttn = true, WindowSize = w, AttnTypes = types } : config;
    }

    /// <summary>TransformerLens' conversion of a Llama-like checkpoint: W_Q/W_K/W_V from q/k/v_proj (per head), W_O from
    /// o_proj, W_gate/W_in/W_out from gate/up/down_proj (transposed), ln1/ln2/ln_final weights, W_U from lm_head (or the
    /// embedding when tied); biases zero unless the checkpoint has them (<paramref name="qkvBias"/>, <paramref name="oBias"/>);
    /// q_norm/k_norm weights with <paramref name="qkNorm"/>.</summary>
    public static TransformerWeights ReadWeights(ModelConfig cfg, HfConfig hf, CheckpointTensors t, bool qkvBias, bool oBias, bool qkNorm)
    {
        int d = cfg.DModel, h = cfg.NHeads, kv = cfg.KeyValueHeads, dh = cfg.DHead, dMlp = cfg.DMlp, v = cfg.DVocab;
        string prefix = t.Has("model.embed_tokens.weight") ? "model." : "";
        var embed = t.Take(prefix + "embed_tokens.weight", "vocab_size × hidden_size", v, d);
        var blocks = new BlockWeights[cfg.NLayers];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            string p = $"{prefix}layers.{l}.";
            const string qWhy = "num_attention_heads × head_dim, hidden_size", kvWhy = "num_key_value_heads × head_dim, hidden_size";
            Tensor Bias(string key, int heads, string why) => qkvBias ? HeadsBias(t.Take(key, why, heads * dh), heads, dh) : Zeros(heads, dh);
            blocks[l] = new BlockWeights
            {
                Ln1W = t.Take(p + "input_layernorm.weight", "hidden_size", d),
                W_Q = HeadsIn(t.Take(p + "self_attn.q_proj.weight", qWhy, h * dh, d), h, dh),
                W_K = HeadsIn(t.Take(p + "self_attn.k_proj.weight", kvWhy, kv * dh, d), kv, dh),
                W_V = HeadsIn(t.Take(p + "self_attn.v_proj.weight", kvWhy, kv * dh, d), kv, dh),
                b_Q = Bias(p + "self_attn.q_proj.bias", h, "num_attention_heads × head_dim"),
                b_K = Bias(p + "self_attn.k_proj.bias", kv, "num_key_value_heads × head_dim"),
                b_V = Bias(p + "self_attn.v_proj.bias", kv, "num_key_value_heads × head_dim"),
                W_O = HeadsOut(t.Take(p + "self_attn.o_proj.weight", "hidden_size, num_attention_heads × head_dim", d, h * dh), h, dh),
                b_O = oBias ? t.Take(p + "self_attn.o_proj.bias", "hidden_size", d) : Zeros(d),
                QNormW = qkNorm ? t.Take(p + "self_attn.q_norm.weight", "head_dim", dh) : null,
                KNormW = qkNorm ? t.Take(p + "self_attn.k_norm.weight", "head_dim", dh) : null,
                Ln2W = t.Take(p + "post_attention_layernorm.weight", "hidden_size", d),
                W_gate = Transpose(t.Take(p + "mlp.gate_proj.weight", "intermediate_size, hidden_size", dMlp, d)),
                W_in = Transpose(t.Take(p + "mlp.up_proj.weight", "intermediate_size, hidden_size", dMlp, d)),
                b_in = Zeros(dMlp),
                W_out = Transpose(t.Take(p + "mlp.down_proj.weight", "hidden_size, intermediate_size", d, dMlp)),
                b_out = Zeros(d),
            };
        }
        var lnFinal = t.Take(prefix + "norm.weight", "hidden_size", d);
        var lmHead = TiedOrLmHead(hf, t, v, d, "lm_head.weight", tiedByDefault: false);
        var weights = new TransformerWeights
        {
            W_E = embed, Blocks = blocks, LnFinalW = lnFinal, W_U = Transpose(lmHead ?? embed), b_U = Zeros(v),
        };
        t.RequireAllUsed(n => n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal),
            "num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim, intermediate_size, tie_word_embeddings");
        return weights;
    }

    /// <summary>The output embedding [vocab, d_model]: the checkpoint's <paramref name="key"/>, or null when the model ties
    /// it to the input embedding. tie_word_embeddings true with an lm_head present, or false without one, is an error.</summary>
    public static Tensor? TiedOrLmHead(HfConfig hf, CheckpointTensors t, int vocab, int d, string key, bool tiedByDefault)
    {
        bool tied = hf.Bool("tie_word_embeddings", tiedByDefault);
        var head = t.TakeOptional(key, "vocab_size × hidden_size", vocab, d);
        if (head is null && !tied)
            throw new InvalidCheckpointException($"missing tensor '{key}' in {t.Path}: config.json says tie_word_embeddings false, so the checkpoint needs its own output embedding; fix config.json or re-download the weights");
        return head;
    }
}
