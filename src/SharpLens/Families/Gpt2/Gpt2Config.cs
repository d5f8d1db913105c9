using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Loading;

namespace SharpLens.Families.Gpt2;

/// <summary>
/// Hyper-parameters of a GPT-2 model, parsed from a Hugging Face <c>config.json</c>
/// (<c>GPT2LMHeadModel</c>, <c>model_type</c> "gpt2"). Missing keys take the Hugging Face defaults (gpt2 small).
/// </summary>
public sealed record Gpt2Config
{
    /// <summary>Activation functions SharpLens implements: "gelu_new" and its alias "gelu_pytorch_tanh"
    /// (tanh approximation), and "gelu" (exact, erf).</summary>
    public static readonly IReadOnlyList<string> SupportedActivations = ["gelu_new", "gelu_pytorch_tanh", "gelu"];

    /// <summary>Number of transformer blocks (n_layer).</summary>
    public int NLayer { get; init; } = 12;
    /// <summary>Attention heads per layer (n_head).</summary>
    public int NHead { get; init; } = 12;
    /// <summary>Residual stream width d_model (n_embd).</summary>
    public int NEmbd { get; init; } = 768;
    /// <summary>Context length (n_positions, or n_ctx in old configs).</summary>
    public int NPositions { get; init; } = 1024;
    /// <summary>Vocabulary size d_vocab (vocab_size), the rows of W_E.</summary>
    public int VocabSize { get; init; } = 50257;
    /// <summary>LayerNorm epsilon (layer_norm_epsilon), added to the variance before the square root.</summary>
    public float LayerNormEpsilon { get; init; } = 1e-5f;
    /// <summary>One of <see cref="SupportedActivations"/>.</summary>
    public string ActivationFunction { get; init; } = "gelu_new";
    /// <summary>MLP hidden width as written in the config; null means 4 * n_embd (see <see cref="DMlp"/>).</summary>
    public int? NInner { get; init; }
    /// <summary>The config's <c>architectures</c> list; a GPT-2 checkpoint says <c>GPT2LMHeadModel</c>.</summary>
    public IReadOnlyList<string> Architectures { get; init; } = ["GPT2LMHeadModel"];

    /// <summary>bos_token_id, when the config names one (a model without a tokenizer takes its BOS from here).</summary>
    public int? BosTokenId { get; init; }
    /// <summary>eos_token_id, when the config names one.</summary>
    public int? EosTokenId { get; init; }
    /// <summary>Extra keys written verbatim into config.json by <see cref="ToJson"/> (e.g. the TransformerLens config a
    /// trained model was built from); ignored by Hugging Face.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Extra { get; init; } = new Dictionary<string, JsonNode?>();

    /// <summary>Per-head width = n_embd / n_head.</summary>
    public int DHead => NEmbd / NHead;
    /// <summary>Alias of <see cref="NEmbd"/>.</summary>
    public int DModel => NEmbd;
    /// <summary>MLP hidden width: n_inner, or 4 * n_embd when null.</summary>
    public int DMlp => NInner ?? 4 * NEmbd;

    /// <summary>Reads and validates a config.json.</summary>
    /// <exception cref="ModelNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidCheckpointException">The file is malformed or not a supported GPT-2 config.</exception>
    public static Gpt2Config Load(string path)
    {
        path = Path.GetFullPath(path);
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path))
            throw new ModelNotFoundException($"config {path} does not exist: pass a model folder holding config.json (a Hugging Face GPT-2 checkpoint)");
        string text;
        try { text = InputFiles.ReadText(path, "config"); }
        catch (InvalidInputException e) { throw new InvalidCheckpointException(e.Message, e); }
        return Parse(text, path);
    }

    /// <summary>Parses config JSON; <paramref name="source"/> names the file in error messages.</summary>
    public static Gpt2Config Parse(string json, string source = "config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, InputFiles.DocumentOptions(lenient: true)); }
        catch (JsonException e)
        {
            throw new InvalidCheckpointException($"config {source} is not valid JSON ({SafetensorsFile.OneLine(e.Message)}): fix or re-download config.json", e);
        }
        using (doc)
        {
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
                throw new InvalidCheckpointException($"config {source} is a JSON {r.ValueKind}, not an object: fix or re-download config.json");

            var archs = new List<string>();
            if (r.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array)
                foreach (var x in a.EnumerateArray())
                    if (x.ValueKind == JsonValueKind.String) archs.Add(x.GetString()!);
            string? modelType = r.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
            string? badArch = archs.FirstOrDefault(x => !x.StartsWith("GPT2", StringComparison.Ordinal));
            if (badArch != null || (modelType != null && modelType != "gpt2"))
                throw new InvalidCheckpointException(
                    $"unsupported architecture {badArch ?? "model_type " + modelType} in {source}: SharpLens supports GPT2LMHeadModel");

            var c = new Gpt2Config
            {
                NLayer = Int(r, source, "n_layer", 12),
                NHead = Int(r, source, "n_head", 12),
                NEmbd = Int(r, source, "n_embd", 768),
                NPositions = r.TryGetProperty("n_positions", out _) ? Int(r, source, "n_positions", 1024) : Int(r, source, "n_ctx", 1024),
                VocabSize = Int(r, source, "vocab_size", 50257),
                LayerNormEpsilon = Float(r, source, "layer_norm_epsilon", 1e-5f),
                ActivationFunction = Str(r, source, "activation_function", "gelu_new"),
                NInner = r.TryGetProperty("n_inner", out var ni) && ni.ValueKind != JsonValueKind.Null ? Int(r, source, "n_inner", 0) : null,
                Architectures = archs.Count > 0 ? archs : ["GPT2LMHeadModel"],
                BosTokenId = r.TryGetProperty("bos_token_id", out var bos) && bos.ValueKind != JsonValueKind.Null ? Int(r, source, "bos_token_id", 0) : null,
                EosTokenId = r.TryGetProperty("eos_token_id", out var eos) && eos.ValueKind == JsonValueKind.Number ? Int(r, source, "eos_token_id", 0) : null,
            };
            // Configs copied from GPT-2 keep bos_token_id 50256 over smaller vocabularies: such an id names no token and is ignored.
            if (c.BosTokenId is int b && (b < 0 || b >= c.VocabSize)) c = c with { BosTokenId = null };
            if (Bool(r, source, "scale_attn_by_inverse_layer_idx", false))
                throw new InvalidCheckpointException($"config {source} sets scale_attn_by_inverse_layer_idx=true: SharpLens supports only standard GPT-2 attention scaling");
            if (!Bool(r, source, "scale_attn_weights", true))
                throw new InvalidCheckpointException($"config {source} sets scale_attn_weights=false: SharpLens supports only standard GPT-2 attention scaling");
            c.Validate(source);
            return c;
        }
    }

    /// <summary>Checks sizes are positive and consistent; throws <see cref="InvalidCheckpointException"/> naming <paramref name="source"/>.</summary>
    public void Validate(string source = "config.json")
    {
        void Positive(string key, int v)
        {
            if (v <= 0) throw new InvalidCheckpointException($"config {source} has {key}={v}: it must be a positive integer");
        }
        Positive("n_layer", NLayer);
        Positive("n_head", NHead);
        Positive("n_embd", NEmbd);
        Positive("n_positions", NPositions);
        Positive("vocab_size", VocabSize);
        if (NInner is int inner) Positive("n_inner", inner);
        if (NEmbd % NHead != 0)
            throw new InvalidCheckpointException($"config {source} has n_embd={NEmbd} not divisible by n_head={NHead}: fix the config");
        if (!(LayerNormEpsilon > 0) || float.IsInfinity(LayerNormEpsilon))
            throw new InvalidCheckpointException($"config {source} has layer_norm_epsilon={LayerNormEpsilon}: it must be a small positive number");
        if (!SupportedActivations.Contains(ActivationFunction))
            throw new InvalidCheckpointException(
                $"unsupported activation_function {ActivationFunction} in {source}: SharpLens supports {string.Join(", ", SupportedActivations)}");
    }

    /// <summary>Hugging Face config.json text for this config (loadable by transformers and by <see cref="Parse"/>).</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["activation_function"] = ActivationFunction,
            ["architectures"] = new JsonArray(Architectures.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
            ["layer_norm_epsilon"] = LayerNormEpsilon,
            ["model_type"] = "gpt2",
            ["n_ctx"] = NPositions,
            ["n_embd"] = NEmbd,
            ["n_head"] = NHead,
            ["n_inner"] = NInner,
            ["n_layer"] = NLayer,
            ["n_positions"] = NPositions,
            ["vocab_size"] = VocabSize,
        };
        if (BosTokenId is int bos) o["bos_token_id"] = bos;
        if (EosTokenId is int eos) o["eos_token_id"] = eos;
        foreach (var (key, value) in Extra) o[key] = value?.DeepClone();
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static InvalidCheckpointException BadKey(string source, string key, JsonElement v, string want) =>
        new($"config {source} has {key}={SafetensorsFile.OneLine(v.GetRawText())}: it must be {want}");

    private static int Int(JsonElement r, string source, string key, int def)
    {
        if (!r.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return def;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
        throw BadKey(source, key, v, "an integer");
    }

    private static float Float(JsonElement r, string source, string key, float def)
    {
        if (!r.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return def;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d)) return (float)d;
        throw BadKey(source, key, v, "a number");
    }

    private static string Str(JsonElement r, string source, string key, string def)
    {
        if (!r.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return def;
        if (v.ValueKind == JsonValueKind.String) return v.GetString()!;
        throw BadKey(source, key, v, "a string");
    }

    private static bool Bool(JsonElement r, string source, string key, bool def)
    {
        if (!r.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return def;
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        throw BadKey(source, key, v, "true or false");
    }
}
