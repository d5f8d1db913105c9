using System.Text.Json;
using SharpLens.Tokenization.HuggingFace;

namespace SharpLens.Tokenization;

/// <summary>
/// What tokenizer_config.json and special_tokens_map.json say: the special tokens (a string, null, or an AddedToken
/// object with "content"), add_bos_token / add_eos_token and the tokenizer class. special_tokens_map.json's tokens win
/// over tokenizer_config.json's, as in transformers' from_pretrained.
/// </summary>
internal sealed record TokenizerConfig
{
    /// <summary>bos_token: null when the tokenizer has none (Qwen) or the files do not say.</summary>
    public string? Bos { get; init; }
    /// <summary>Whether bos_token was given at all (explicit null included).</summary>
    public bool BosGiven { get; init; }
    /// <summary>eos_token.</summary>
    public string? Eos { get; init; }
    /// <summary>Whether eos_token was given at all.</summary>
    public bool EosGiven { get; init; }
    /// <summary>pad_token.</summary>
    public string? Pad { get; init; }
    /// <summary>add_bos_token, when given.</summary>
    public bool? AddBosToken { get; init; }
    /// <summary>add_eos_token, when given.</summary>
    public bool? AddEosToken { get; init; }
    /// <summary>tokenizer_class, e.g. "LlamaTokenizer".</summary>
    public string? TokenizerClass { get; init; }
    /// <summary>Which of the two files were present (for messages).</summary>
    public string Source { get; init; } = "";

    /// <summary>Transformers' tokenizer classes whose post-processor is rebuilt from add_bos_token / add_eos_token, and
    /// which TransformerLens therefore loads with add_bos_token=True (so that they put BOS first themselves).</summary>
    public bool RebuildsTemplate => TokenizerClass?.Replace("Fast", "") is "LlamaTokenizer" or "CodeLlamaTokenizer" or "GemmaTokenizer";

    /// <summary>Reads the folder's tokenizer_config.json and special_tokens_map.json (each optional).</summary>
    public static TokenizerConfig Load(string folder)
    {
        var config = new TokenizerConfig();
        var sources = new List<string>();
        foreach (string name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            string path = Path.Combine(folder, name);
            if (Directory.Exists(path)) throw new InvalidInputException($"{name} in {folder} is a folder, not a file: restore the file from the model's repository, or remove the folder");
            if (!File.Exists(path)) continue;
            sources.Add(name);
            using var doc = TokenizerFiles.ParseJson(path);
            var root = JsonNodeReader.Root(doc, name);
            bool map = name == "special_tokens_map.json";
            config = config with
            {
                Bos = Has(root, "bos_token") ? Token(root, "bos_token") : config.Bos,
                BosGiven = config.BosGiven || Has(root, "bos_token"),
                Eos = Has(root, "eos_token") ? Token(root, "eos_token") : config.Eos,
                EosGiven = config.EosGiven || Has(root, "eos_token"),
                Pad = Has(root, "pad_token") ? Token(root, "pad_token") : config.Pad,
                AddBosToken = map ? config.AddBosToken : Flag(root, "add_bos_token"),
                AddEosToken = map ? config.AddEosToken : Flag(root, "add_eos_token"),
                TokenizerClass = map ? config.TokenizerClass : root.OptionalString("tokenizer_class"),
            };
        }
        return config with { Source = string.Join(" and ", sources) };
    }

    private static bool Has(JsonNodeReader root, string name) => root.Element.TryGetProperty(name, out _);

    private static bool? Flag(JsonNodeReader root, string name) => Has(root, name) && !root.Field(name).IsNull ? root.Bool(name, false) : null;

    /// <summary>A special token: "text", null, or {"content": "text", ...}.</summary>
    private static string? Token(JsonNodeReader root, string name)
    {
        var f = root.Field(name);
        if (f.IsNull) return null;
        if (f.Element.ValueKind == JsonValueKind.String) return f.AsString();
        if (f.Element.ValueKind == JsonValueKind.Object) return f.String("content");
        throw f.Error($"must be a token string, null or an object with \"content\", not {JsonNodeReader.Kind(f.Element)}");
    }
}

/// <summary>Reading tokenizer files: size limits and JSON errors as one line naming the file.</summary>
internal static class TokenizerFiles
{
    /// <summary>The largest tokenizer JSON file read (real ones are up to ~20 MB: Qwen's and Llama 3's tokenizer.json).</summary>
    private const long MaxJsonBytes = 256L << 20;

    /// <summary>Parses a JSON file; a malformed or truncated one is an <see cref="InvalidInputException"/> with the position.</summary>
    public static JsonDocument ParseJson(string path)
    {
        string name = Path.GetFileName(path);
        var info = new FileInfo(path);
        if (info.Length > MaxJsonBytes) throw new InvalidInputException($"{name} is {info.Length >> 20} MB, more than a tokenizer file can be ({MaxJsonBytes >> 20} MB): check that it is the right file");
        try
        {
            // JsonDocument checks UTF-8 only inside the strings it is asked for: check the whole file first, so that
            // damage anywhere is this one error and not an exception when a field is read.
            byte[] bytes = File.ReadAllBytes(path);
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
                throw new InvalidInputException($"{name} is not valid UTF-8 text: restore the file from the model's repository");
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            string reason = e.Message.Split([" Path:", " LineNumber:"], StringSplitOptions.None)[0].Split('\n')[0].Trim();
            throw new InvalidInputException($"{name}: malformed JSON at line {(e.LineNumber ?? 0) + 1}, column {(e.BytePositionInLine ?? 0) + 1} ({reason}): restore the file from the model's repository");
        }
    }
}
