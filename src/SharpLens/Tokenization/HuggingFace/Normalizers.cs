using System.Text;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// tokenizer.json normalizers, applied to each stretch of text between added tokens: NFC, NFD, NFKC, NFKD, Lowercase,
/// Strip, Prepend, Replace (a string or a regular expression) and Sequence. Each is a function of the text; offsets are
/// not kept because nothing downstream reads them (Metaspace's "first" scheme needs only whether a piece starts the text).
/// </summary>
internal static class Normalizers
{
    /// <summary>The normalizer a tokenizer.json <c>normalizer</c> object describes (null: none).</summary>
    public static Func<string, string>? Read(JsonNodeReader node)
    {
        if (node.IsNull) return null;
        string type = node.Type();
        return type switch
        {
            "NFC" => text => text.Normalize(NormalizationForm.FormC),
            "NFD" => text => text.Normalize(NormalizationForm.FormD),
            "NFKC" => text => text.Normalize(NormalizationForm.FormKC),
            "NFKD" => text => text.Normalize(NormalizationForm.FormKD),
            "Lowercase" => text => text.ToLowerInvariant(),
            "Strip" => Strip(node.Bool("strip_left", true), node.Bool("strip_right", true)),
            "Prepend" => Prepend(node.String("prepend")),
            "Replace" => Replace(node.Pattern("pattern"), node.String("content")),
            "Sequence" => Chain(node.Array("normalizers").Select(Read).OfType<Func<string, string>>().ToArray()),
            _ => throw node.Unsupported("normalizer", type, "NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, Sequence"),
        };
    }

    private static Func<string, string> Strip(bool left, bool right) => text =>
        left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;

    // Hugging Face prepends to non-empty text only.
    private static Func<string, string> Prepend(string prefix) => text => text.Length == 0 ? text : prefix + text;

    private static Func<string, string> Replace(TextPattern pattern, string content) => text => pattern.ReplaceAll(text, content);

    private static Func<string, string> Chain(Func<string, string>[] steps) => text =>
    {
        foreach (var step in steps) text = step(text);
        return text;
    };
}

/// <summary>A tokenizer.json pattern: <c>{"String": "..."}</c> (a literal) or <c>{"Regex": "..."}</c>.</summary>
internal sealed class TextPattern
{
    private readonly string? _literal;
    private readonly CodePointRegex? _regex;

    /// <summary>A literal pattern.</summary>
    public TextPattern(string literal) => _literal = literal;

    /// <summary>A regular-expression pattern.</summary>
    public TextPattern(CodePointRegex regex) => _regex = regex;

    /// <summary><paramref name="text"/> with every occurrence replaced by <paramref name="content"/>.</summary>
    public string ReplaceAll(string text, string content)
    {
        var matches = Matches(text);
        if (matches.Count == 0) return text;
        var result = new StringBuilder(text.Length);
        int at = 0;
        foreach (var (start, length) in matches)
        {
            result.Append(text, at, start - at).Append(content);
            at = start + length;
        }
        return result.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>Every non-overlapping occurrence, left to right, as (start, length); an empty literal matches nowhere.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        if (_regex is not null) return _regex.Matches(text);
        var result = new List<(int, int)>();
        if (_literal!.Length == 0) return result;
        for (int at = text.IndexOf(_literal, StringComparison.Ordinal); at >= 0; at = text.IndexOf(_literal, at + _literal.Length, StringComparison.Ordinal))
            result.Add((at, _literal.Length));
        return result;
    }
}
