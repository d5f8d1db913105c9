using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpLens.Model;

/// <summary>
/// A <see cref="ModelConfig"/> as a TransformerLens <c>HookedTransformerConfig</c> dict in JSON (<c>{"n_layers": 2,
/// "d_model": 128, "n_heads": 4, "act_fn": "gelu_new", ...}</c>), with TransformerLens' defaults (n_heads = d_model /
/// d_head, d_mlp = 4·d_model, d_head = d_model / n_heads). Keys TransformerLens does not have, and TransformerLens
/// settings SharpLens does not implement with a value other than their default, are one-line errors naming the key.
/// </summary>
public static class ModelConfigJson
{
    // TransformerLens keys that do not change the architecture: accepted and ignored.
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "seed", "init_weights", "initializer_range", "init_mode", "device", "n_devices", "dtype", "use_attn_result",
        "use_split_qkv_input", "use_hook_mlp_in", "use_attn_in", "use_hook_tokens", "tokenizer_name", "from_checkpoint",
        "checkpoint_index", "checkpoint_label_type", "checkpoint_value", "n_params", "tokenizer_prepends_bos",
        "default_padding_side", "post_embedding_ln", "ungroup_grouped_query_attention",
    };

    // TransformerLens keys SharpLens implements only at their default value.
    private static readonly Dictionary<string, JsonNode?> OnlyDefault = new(StringComparer.Ordinal)
    {
        ["use_attn_scale"] = true, ["attention_dir"] = "causal", ["scale_attn_by_inverse_layer_idx"] = false,
        ["attn_scores_soft_cap"] = -1.0, ["output_logits_soft_cap"] = -1.0, ["num_experts"] = null, ["experts_per_token"] = null,
        ["load_in_4bit"] = false, ["use_normalization_before_and_after"] = false, ["relative_attention_max_distance"] = null,
        ["relative_attention_num_buckets"] = null, ["decoder_start_token_id"] = null, ["rotary_theta"] = null,
    };

    /// <summary>Reads a TransformerLens config dict; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="InvalidInputException">Not JSON, a key TransformerLens does not have, a value of the wrong type,
    /// an unsupported setting or an impossible shape (one line each).</exception>
    public static ModelConfig Parse(string json, string source = "config")
    {
        JsonObject o;
        try { o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidInputException($"{source} is not a JSON object: write a TransformerLens config dict such as {{\"n_layers\": 2, \"d_model\": 128, ...}}"); }
        catch (JsonException e) { throw new InvalidInputException($"{source} is not valid JSON ({e.Message.Split('\n')[0]}): fix the file"); }
        var known = new HashSet<string>(Keys, StringComparer.Ordinal);
        foreach (var (key, value) in o)
        {
            if (known.Contains(key) || Ignored.Contains(key)) continue;
            if (OnlyDefault.TryGetValue(key, out var def))
            {
                if (JsonNode.DeepEquals(value, def) || (value is null && def is null)) continue;
                throw new InvalidInputException($"{source} sets {key} = {value?.ToJsonString() ?? "null"}: SharpLens implements only {def?.ToJsonString() ?? "null"}; remove the key");
            }
            throw new InvalidInputException($"{source} has the key '{key}', which TransformerLens' HookedTransformerConfig does not have: remove it or fix its spelling");
        }
        int? Int(string key) => o[key] is null ? null : Read(o, key, source, n => n.GetValueKind() == JsonValueKind.Number && n.GetValue<double>() is var d && d == Math.Floor(d) ? (int)d : (int?)null, "an integer");
        float? Float(string key) => o[key] is null ? null : Read(o, key, source, n => n.GetValueKind() == JsonValueKind.Number ? (float)n.GetValue<double>() : (float?)null, "a number");
        bool? Bool(string key) => o[key] is null ? null : Read(o, key, source, n => n.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? n.GetValue<bool>() : (bool?)null, "true or false");
        string? Str(string key) => o[key] is null ? null : Read(o, key, source, n => n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null, "a string");

        int nLayers = Int("n_layers") ?? throw Missing("n_layers", source);
        int dModel = Int("d_model") ?? throw Missing("d_model", source);
        int nCtx = Int("n_ctx") ?? throw Missing("n_ctx", source);
        int dVocab = Int("d_vocab") ?? throw Missing("d_vocab", source);
        int? dHead = Int("d_head"), nHeads = Int("n_heads");
        if (nHeads is -1) nHeads = null;
        if (dHead is null && nHeads is null) throw new InvalidInputException($"{source} needs d_head or n_heads: give at least one");
        if (dHead is null && dModel % nHeads!.Value != 0)
            throw new InvalidInputException($"{source}: d_model {dModel} is not divisible by n_heads {nHeads}: give d_head explicitly or change n_heads");
        int heads = nHeads ?? dModel / dHead!.Value, headWidth = dHead ?? dModel / heads;
        if (nHeads is null && dModel % headWidth != 0)
            throw new InvalidInputException($"{source}: d_model {dModel} is not divisible by d_head {headWidth}: give n_heads explicitly or change d_head");
        if (Int("d_vocab_out") is int outVocab && outVocab != -1 && outVocab != dVocab)
            throw new InvalidInputException($"{source} sets d_vocab_out {outVocab} != d_vocab {dVocab}: SharpLens models unembed to the input vocabulary; remove d_vocab_out");
        bool attnOnly = Bool("attn_only") ?? false;
        string? actFn = Str("act_fn");
        if (actFn is null && !attnOnly) throw Missing("act_fn", source);
        var attnTypes = o["attn_types"] is JsonArray a ? a.Select(x => x?.GetValueKind() == JsonValueKind.String ? x.GetValue<string>()
            : throw new InvalidInputException($"{source} has attn_types entries that are not strings: use \"global\" or \"local\"")).ToArray() : null;
        var config = new ModelConfig
        {
            NLayers = nLayers, DModel = dModel, NHeads = heads, DHead = headWidth, DMlp = Int("d_mlp") ?? (attnOnly ? 0 : 4 * dModel),
            DVocab = dVocab, NCtx = nCtx, LayerNormEps = Float("eps") ?? 1e-5f, ActFn = actFn ?? "gelu_new",
            NormalizationType = o.ContainsKey("normalization_type") && o["normalization_type"] is null ? throw new InvalidInputException($"{source} sets normalization_type null (no normalization), which SharpLens does not implement: use LN, LNPre, RMS or RMSPre")
                : Str("normalization_type") ?? "LN",
            FinalRms = Bool("final_rms") ?? false,
            PositionalEmbeddingType = Str("positional_embedding_type") ?? "standard",
            RotaryDim = Int("rotary_dim"), RotaryBase = Float("rotary_base") ?? 10000f, RotaryAdjacentPairs = Bool("rotary_adjacent_pairs") ?? false,
            UseNtkByPartsRope = Bool("use_NTK_by_parts_rope") ?? false, NtkByPartsFactor = Float("NTK_by_parts_factor") ?? 8f,
            NtkByPartsLowFreqFactor = Float("NTK_by_parts_low_freq_factor") ?? 1f, NtkByPartsHighFreqFactor = Float("NTK_by_parts_high_freq_factor") ?? 4f,
            NtkOriginalCtxLen = Int("NTK_original_ctx_len") ?? 8192, NKeyValueHeads = Int("n_key_value_heads"), UseQkNorm = Bool("use_qk_norm") ?? false,
            UseLocalAttn = Bool("use_local_attn") ?? false, WindowSize = Int("window_size"), AttnTypes = attnTypes,
            GatedMlp = Bool("gated_mlp") ?? false, ParallelAttnMlp = Bool("parallel_attn_mlp") ?? false, AttnOnly = attnOnly,
            OriginalArchitecture = Str("original_architecture"), DefaultPrependBos = Bool("default_prepend_bos") ?? true,
            ModelName = Str("model_name") ?? "custom", BosTokenId = Int("bos_token_id") ?? dVocab - 1,
        };
        try { config.Validate(); }
        catch (InvalidCheckpointException e) { throw new InvalidInputException($"{source}: {e.Message}"); }
        return config;
    }

    /// <summary>The keys <see cref="Parse"/> reads and <see cref="ToJson"/> writes (TransformerLens' names).</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "n_layers", "d_model", "n_heads", "d_head", "d_mlp", "d_vocab", "d_vocab_out", "n_ctx", "eps", "act_fn", "normalization_type",
        "final_rms", "positional_embedding_type", "rotary_dim", "rotary_base", "rotary_adjacent_pairs", "use_NTK_by_parts_rope",
        "NTK_by_parts_factor", "NTK_by_parts_low_freq_factor", "NTK_by_parts_high_freq_factor", "NTK_original_ctx_len",
        "n_key_value_heads", "use_qk_norm", "use_local_attn", "window_size", "attn_types", "gated_mlp", "parallel_attn_mlp",
        "attn_only", "original_architecture", "default_prepend_bos", "model_name", "bos_token_id",
    ];

    /// <summary>The config as a TransformerLens config dict (every key of <see cref="Keys"/>; <see cref="Parse"/> reads it back).</summary>
    public static string ToJson(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var o = new JsonObject
        {
            ["n_layers"] = c.NLayers, ["d_model"] = c.DModel, ["n_heads"] = c.NHeads, ["d_head"] = c.DHead, ["d_mlp"] = c.DMlp,
            ["d_vocab"] = c.DVocab, ["d_vocab_out"] = c.DVocab, ["n_ctx"] = c.NCtx, ["eps"] = c.LayerNormEps, ["act_fn"] = c.ActFn,
            ["normalization_type"] = c.NormalizationType, ["final_rms"] = c.FinalRms, ["positional_embedding_type"] = c.PositionalEmbeddingType,
            ["rotary_dim"] = c.IsRotary ? c.EffectiveRotaryDim : null, ["rotary_base"] = c.RotaryBase, ["rotary_adjacent_pairs"] = c.RotaryAdjacentPairs,
            ["use_NTK_by_parts_rope"] = c.UseNtkByPartsRope, ["NTK_by_parts_factor"] = c.NtkByPartsFactor,
            ["NTK_by_parts_low_freq_factor"] = c.NtkByPartsLowFreqFactor, ["NTK_by_parts_high_freq_factor"] = c.NtkByPartsHighFreqFactor,
            ["NTK_original_ctx_len"] = c.NtkOriginalCtxLen, ["n_key_value_heads"] = c.NKeyValueHeads, ["use_qk_norm"] = c.UseQkNorm,
            ["use_local_attn"] = c.UseLocalAttn, ["window_size"] = c.WindowSize,
            ["attn_types"] = c.AttnTypes is null ? null : new JsonArray(c.AttnTypes.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["gated_mlp"] = c.GatedMlp, ["parallel_attn_mlp"] = c.ParallelAttnMlp, ["attn_only"] = c.AttnOnly,
            ["original_architecture"] = c.OriginalArchitecture, ["default_prepend_bos"] = c.DefaultPrependBos,
            ["model_name"] = c.ModelName, ["bos_token_id"] = c.BosTokenId,
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static T Read<T>(JsonObject o, string key, string source, Func<JsonNode, T?> read, string want)
    {
        var node = o[key]!;
        T? value;
        try { value = read(node); }
        catch (Exception e) when (e is InvalidOperationException or FormatException) { value = default; }
        return value ?? throw new InvalidInputException($"{source} has {key} = {node.ToJsonString()}: it must be {want}");
    }

    private static InvalidInputException Missing(string key, string source) =>
        new($"{source} has no {key}: TransformerLens needs it (e.g. {{\"{key}\": ...}})");
}
