using System.Text.Json;

namespace SharpLens.Families;

/// <summary>
/// A Hugging Face <c>config.json</c>, read once, with typed accessors that name the file and the key in every error
/// (a key of the wrong type, a missing required key). Families map it to a <see cref="Model.ModelConfig"/>.
/// </summary>
internal sealed class HfConfig
{
    private readonly JsonElement _root;

    private HfConfig(JsonElement root, string source)
    {
        _root = root;
        Source = source;
    }

    /// <summary>The file, for messages.</summary>
    public string Source { get; }
    /// <summary>model_type, or null when absent.</summary>
    public string? ModelType => String("model_type");
    /// <summary>The architectures list (empty when absent).</summary>
    public IReadOnlyList<string> Architectures => _root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
        ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray() : [];

    /// <summary>Reads <c>config.json</c> of <paramref name="folder"/>.</summary>
    /// <exception cref="ModelNotFoundException">There is no config.json.</exception>
    /// <exception cref="InvalidCheckpointException">It is not a JSON object.</exception>
    public static HfConfig Load(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new ModelNotFoundException($"config {path} does not exist: pass a model folder holding config.json (a Hugging Face checkpoint)");
        // A folder in its place, an empty file, UTF-16 or bytes that are not UTF-8 are one line, as for every input file.
        string text;
        try { text = InputFiles.ReadText(path, "config", "fix or re-download config.json"); }
        catch (InvalidInputException e) { throw new InvalidCheckpointException(e.Message, e); }
        return Parse(text, path);
    }

    /// <summary>Parses config JSON; <paramref name="source"/> names it in messages.</summary>
    public static HfConfig Parse(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, InputFiles.DocumentOptions(lenient: true));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidCheckpointException($"config {source} is a JSON {doc.RootElement.ValueKind}, not an object: fix or re-download config.json");
            return new HfConfig(doc.RootElement.Clone(), source);
        }
        catch (JsonException e)
        {
            throw new InvalidCheckpointException($"config {source} is not valid JSON ({Loading.SafetensorsFile.OneLine(e.Message)}): fix or re-download config.json", e);
        }
    }

    /// <summary>The raw JSON text of the whole config (for the families that reuse an older parser).</summary>
    public string RawText => _root.GetRawText();

    /// <summary>Whether <paramref name="key"/> is present and not null.</summary>
    public bool Has(string key) => _root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>A required integer.</summary>
    public int Int(string key) => IntOrNull(key) ?? throw new InvalidCheckpointException($"config {Source} has no {key}: the checkpoint's config.json is incomplete; re-download it");

    /// <summary>An integer, or <paramref name="fallback"/> when absent or null.</summary>
    public int Int(string key, int fallback) => IntOrNull(key) ?? fallback;

    /// <summary>An integer, or null when absent or null.</summary>
    public int? IntOrNull(string key) => Get(key) is { } v ? ReadInt(v, key) : null;

    /// <summary>A number, or <paramref name="fallback"/> when absent or null.</summary>
    public float Float(string key, float fallback) => FloatOrNull(key) ?? fallback;

    /// <summary>A number, or null when absent or null.</summary>
    public float? FloatOrNull(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.Number ? (float)v.GetDouble() : throw Bad(key, v, "a number") : null;

    /// <summary>true/false, or <paramref name="fallback"/> when absent or null.</summary>
    public bool Bool(string key, bool fallback) => Get(key) is { } v
        ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad(key, v, "true or false") : fallback;

    /// <summary>A string, or null when absent or null.</summary>
    public string? String(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad(key, v, "a string") : null;

    /// <summary>A nested object (e.g. rope_scaling), or null when absent or null.</summary>
    public HfConfig? Object(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.Object ? new HfConfig(v, $"{Source} ({key})") : throw Bad(key, v, "an object") : null;

    /// <summary>A list of strings (e.g. layer_types), or null when absent or null.</summary>
    public IReadOnlyList<string>? Strings(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String)
            ? v.EnumerateArray().Select(x => x.GetString()!).ToArray() : throw Bad(key, v, "a list of strings") : null;

    /// <summary>An error naming this file, for a value the family cannot use.</summary>
    public InvalidCheckpointException Unsupported(string what, string fix) => new($"config {Source} {what}: {fix}");

    private JsonElement? Get(string key) => _root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private int ReadInt(JsonElement v, string key)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
        throw Bad(key, v, "an integer");
    }

    private InvalidCheckpointException Bad(string key, JsonElement v, string want) =>
        new($"config {Source} has {key}={Loading.SafetensorsFile.OneLine(v.GetRawText())}: it must be {want}");
}
