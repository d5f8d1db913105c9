using System.Text.Json;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Tests.Support;

/// <summary>
/// Writes TransformerLens-named weights as a Hugging Face checkpoint folder of a family (config.json with that family's
/// keys, safetensors with its tensor names and PyTorch Linear layouts), written here independently of the library's
/// weight maps, so that loading the folder back must give the same weights and logits. Optionally sharded
/// (model.safetensors.index.json and two shards).
/// </summary>
public static class HfFamilyCheckpoint
{
    /// <summary>Writes <paramref name="w"/> of <paramref name="cfg"/> as a <paramref name="modelType"/> checkpoint.</summary>
    /// <param name="dir">the folder (created)</param>
    /// <param name="modelType">gpt_neox, llama, mistral, qwen2 or qwen3</param>
    /// <param name="cfg">the model's configuration (what config.json must describe)</param>
    /// <param name="w">its raw weights</param>
    /// <param name="tied">llama-like only: no lm_head, tie_word_embeddings true (W_U must equal W_Eᵀ)</param>
    /// <param name="sharded">write two shards and an index instead of model.safetensors</param>
    /// <param name="edit">changes config.json's dictionary before it is written (bad-input tests)</param>
    public static string Write(string dir, string modelType, ModelConfig cfg, TransformerWeights w, bool tied = false, bool sharded = false,
        Action<Dictionary<string, object?>>? edit = null)
    {
        Directory.CreateDirectory(dir);
        var (config, tensors) = modelType == "gpt_neox" ? Neox(cfg, w) : LlamaLike(modelType, cfg, w, tied);
        edit?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        if (!sharded) SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        else
        {
            int half = tensors.Count / 2;
            string[] files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
            SafetensorsWriter.Write(Path.Combine(dir, files[0]), tensors.Take(half));
            SafetensorsWriter.Write(Path.Combine(dir, files[1]), tensors.Skip(half));
            var map = tensors.Select((t, i) => (t.Name, File: files[i < half ? 0 : 1])).ToDictionary(t => t.Name, t => t.File);
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
                JsonSerializer.Serialize(new Dictionary<string, object> { ["metadata"] = new Dictionary<string, object>(), ["weight_map"] = map }));
        }
        return dir;
    }

    private static (Dictionary<string, object?>, List<(string Name, Tensor Tensor)>) LlamaLike(string modelType, ModelConfig cfg, TransformerWeights w, bool tied)
    {
        int d = cfg.DModel, h = cfg.NHeads, kv = cfg.KeyValueHeads, dh = cfg.DHead, dMlp = cfg.DMlp;
        var config = new Dictionary<string, object?>
        {
            ["model_type"] = modelType, ["architectures"] = new[] { cfg.OriginalArchitecture }, ["hidden_size"] = d,
            ["num_attention_heads"] = h, ["num_key_value_heads"] = kv, ["head_dim"] = dh, ["intermediate_size"] = dMlp,
            ["num_hidden_layers"] = cfg.NLayers, ["vocab_size"] = cfg.DVocab, ["max_position_embeddings"] = cfg.NCtx,
            ["rms_norm_eps"] = cfg.LayerNormEps, ["rope_theta"] = cfg.RotaryBase, ["hidden_act"] = cfg.ActFn,
            ["tie_word_embeddings"] = tied, ["bos_token_id"] = 1,
        };
        if (cfg.UseNtkByPartsRope)
            config["rope_scaling"] = new Dictionary<string, object>
            {
                ["rope_type"] = "llama3", ["factor"] = cfg.NtkByPartsFactor, ["low_freq_factor"] = cfg.NtkByPartsLowFreqFactor,
                ["high_freq_factor"] = cfg.NtkByPartsHighFreqFactor, ["original_max_position_embeddings"] = cfg.NtkOriginalCtxLen,
            };
        if (cfg.UseLocalAttn)
        {
            config["sliding_window"] = cfg.WindowSize;
            if (modelType is "qwen2" or "qwen3")
            {
                config["use_sliding_window"] = true;
                config["max_window_layers"] = cfg.AttnTypes!.ToList().IndexOf("local");
            }
        }
        var tensors = new List<(string, Tensor)> { ("model.embed_tokens.weight", w.W_E) };
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var b = w.Blocks[l];
            string p = $"model.layers.{l}.";
            tensors.Add((p + "input_layernorm.weight", b.Ln1W!));
            tensors.Add((p + "self_attn.q_proj.weight", HeadsToLinear(b.W_Q, h, d, dh)));
            tensors.Add((p + "self_attn.k_proj.weight", HeadsToLinear(b.W_K, kv, d, dh)));
            tensors.Add((p + "self_attn.v_proj.weight", HeadsToLinear(b.W_V, kv, d, dh)));
            if (modelType == "qwen2")
            {
                tensors.Add((p + "self_attn.q_proj.bias", Flat(b.b_Q)));
                tensors.Add((p + "self_attn.k_proj.bias", Flat(b.b_K)));
                tensors.Add((p + "self_attn.v_proj.bias", Flat(b.b_V)));
            }
            tensors.Add((p + "self_attn.o_proj.weight", T(new Tensor(b.W_O.Data, h * dh, d))));
            if (b.QNormW is not null)
            {
                tensors.Add((p + "self_attn.q_norm.weight", b.QNormW));
                tensors.Add((p + "self_attn.k_norm.weight", b.KNormW!));
            }
            tensors.Add((p + "post_attention_layernorm.weight", b.Ln2W!));
            tensors.Add((p + "mlp.gate_proj.weight", T(b.W_gate!)));
            tensors.Add((p + "mlp.up_proj.weight", T(b.W_in!)));
            tensors.Add((p + "mlp.down_proj.weight", T(b.W_out!)));
        }
        tensors.Add(("model.norm.weight", w.LnFinalW!));
        if (!tied) tensors.Add(("lm_head.weight", T(w.W_U)));
        return (config, tensors);
    }

    private static (Dictionary<string, object?>, List<(string Name, Tensor Tensor)>) Neox(ModelConfig cfg, TransformerWeights w)
    {
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead, dMlp = cfg.DMlp;
        var config = new Dictionary<string, object?>
        {
            ["model_type"] = "gpt_neox", ["architectures"] = new[] { "GPTNeoXForCausalLM" }, ["hidden_size"] = d, ["num_attention_heads"] = h,
            ["intermediate_size"] = dMlp, ["num_hidden_layers"] = cfg.NLayers, ["vocab_size"] = cfg.DVocab,
            ["max_position_embeddings"] = cfg.NCtx, ["layer_norm_eps"] = cfg.LayerNormEps, ["hidden_act"] = cfg.ActFn,
            ["rotary_pct"] = (double)cfg.EffectiveRotaryDim / dh, ["rotary_emb_base"] = cfg.RotaryBase,
            ["use_parallel_residual"] = cfg.ParallelAttnMlp, ["tie_word_embeddings"] = false,
        };
        var tensors = new List<(string, Tensor)> { ("gpt_neox.embed_in.weight", w.W_E) };
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var b = w.Blocks[l];
            string p = $"gpt_neox.layers.{l}.";
            // query_key_value rows are ordered (head, q/k/v, d_head).
            var qkv = Tensor.Zeros(3 * d, d);
            var qkvBias = Tensor.Zeros(3 * d);
            Tensor[] parts = [b.W_Q, b.W_K, b.W_V], biases = [b.b_Q, b.b_K, b.b_V];
            for (int head = 0; head < h; head++)
                for (int which = 0; which < 3; which++)
                    for (int j = 0; j < dh; j++)
                    {
                        int row = (head * 3 + which) * dh + j;
                        qkvBias.Data[row] = biases[which].Data[head * dh + j];
                        for (int i = 0; i < d; i++) qkv.Data[row * d + i] = parts[which].Data[(head * d + i) * dh + j];
                    }
            tensors.AddRange([
                (p + "input_layernorm.weight", b.Ln1W!), (p + "input_layernorm.bias", b.Ln1B!),
                (p + "attention.query_key_value.weight", qkv), (p + "attention.query_key_value.bias", qkvBias),
                (p + "attention.dense.weight", T(new Tensor(b.W_O.Data, h * dh, d))), (p + "attention.dense.bias", b.b_O),
                (p + "post_attention_layernorm.weight", b.Ln2W!), (p + "post_attention_layernorm.bias", b.Ln2B!),
                (p + "mlp.dense_h_to_4h.weight", T(b.W_in!)), (p + "mlp.dense_h_to_4h.bias", b.b_in!),
                (p + "mlp.dense_4h_to_h.weight", T(b.W_out!)), (p + "mlp.dense_4h_to_h.bias", b.b_out!)]);
        }
        tensors.Add(("gpt_neox.final_layer_norm.weight", w.LnFinalW!));
        tensors.Add(("gpt_neox.final_layer_norm.bias", w.LnFinalB!));
        tensors.Add(("embed_out.weight", T(w.W_U)));
        return (config, tensors);
    }

    // W [heads, d_model, d_head] → a Linear weight [heads·d_head, d_model].
    private static Tensor HeadsToLinear(Tensor w, int heads, int d, int dh)
    {
        var linear = Tensor.Zeros(heads * dh, d);
        for (int head = 0; head < heads; head++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < dh; j++)
                    linear.Data[(head * dh + j) * d + i] = w.Data[(head * d + i) * dh + j];
        return linear;
    }

    private static Tensor Flat(Tensor t) => new(t.Data, t.Length);

    /// <summary>The transpose of a matrix [rows, cols] → [cols, rows].</summary>
    public static Tensor T(Tensor m)
    {
        int rows = m.Dim(0), cols = m.Dim(1);
        var t = Tensor.Zeros(cols, rows);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t.Data[j * rows + i] = m.Data[i * cols + j];
        return t;
    }
}
