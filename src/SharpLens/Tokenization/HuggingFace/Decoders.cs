using System.Text;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// tokenizer.json decoders, each a function from token strings to token strings (Hugging Face's <c>decode_chain</c>):
/// ByteLevel, ByteFallback, Metaspace, Replace, Strip, Fuse and Sequence. Without a decoder, tokens are joined with spaces.
/// </summary>
internal static class Decoders
{
    /// <summary>The decoder a tokenizer.json <c>decoder</c> object describes (null: none).</summary>
    public static Func<List<string>, List<string>>? Read(JsonNodeReader node)
    {
        if (node.IsNull) return null;
        string type = node.Type();
        switch (type)
        {
            case "ByteLevel": return ByteLevel;
            case "ByteFallback": return ByteFallback;
            case "Fuse": return tokens => [string.Concat(tokens)];
            case "Replace":
                {
                    var pattern = node.Pattern("pattern");
                    string content = node.String("content");
                    return tokens => tokens.Select(t => pattern.ReplaceAll(t, content)).ToList();
                }
            case "Strip":
                {
                    string content = node.String("content");
                    if (content.Length != 1) throw node.Field("content").Error("must be a single character");
                    int start = node.Id("start"), stop = node.Id("stop");
                    return tokens => tokens.Select(t => Strip(t, content[0], start, stop)).ToList();
                }
            case "Metaspace":
                {
                    string replacement = node.String("replacement");
                    if (replacement.Length != 1) throw node.Field("replacement").Error("must be a single character");
                    string scheme = node.OptionalString("prepend_scheme") ?? (node.Bool("add_prefix_space", true) ? "always" : "never");
                    return tokens => tokens.Select((t, i) => Metaspace(t, replacement[0], i == 0 && scheme != "never")).ToList();
                }
            case "Sequence":
                {
                    var steps = node.Array("decoders").Select(Read).OfType<Func<List<string>, List<string>>>().ToArray();
                    return tokens =>
                    {
                        foreach (var step in steps) tokens = step(tokens);
                        return tokens;
                    };
                }
            default:
                throw node.Unsupported("decoder", type, "ByteLevel, ByteFallback, Metaspace, Replace, Strip, Fuse, Sequence");
        }
    }

    /// <summary>All tokens' bytes joined and read as UTF-8 (invalid bytes as U+FFFD); a token with a character outside
    /// the byte alphabet contributes its own UTF-8.</summary>
    private static List<string> ByteLevel(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var t in tokens) bytes.AddRange(ByteLevelAlphabet.TryDecode(t) ?? Encoding.UTF8.GetBytes(t));
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Runs of &lt;0xXX&gt; tokens become the text their bytes spell, or one U+FFFD per byte when they are not UTF-8.</summary>
    private static List<string> ByteFallback(List<string> tokens)
    {
        var result = new List<string>();
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            try { result.Add(StrictUtf8.GetString(pending.ToArray())); }
            catch (DecoderFallbackException) { result.AddRange(Enumerable.Repeat("\uFFFD", pending.Count)); }
            pending.Clear();
        }
        foreach (var t in tokens)
        {
            if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
                && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
                pending.Add(b);
            else
            {
                Flush();
                result.Add(t);
            }
        }
        Flush();
        return result;
    }

    /// <summary>Removes up to <paramref name="start"/> leading and <paramref name="stop"/> trailing <paramref name="c"/>.</summary>
    private static string Strip(string token, char c, int start, int stop)
    {
        int from = 0, to = token.Length;
        while (from < Math.Min(start, token.Length) && token[from] == c) from++;
        while (token.Length - to < stop && to > from && token[to - 1] == c) to--;
        return token[from..to];
    }

    private static string Metaspace(string token, char replacement, bool dropLeading)
    {
        var sb = new StringBuilder(token.Length);
        foreach (char ch in token)
            if (ch != replacement) sb.Append(ch);
            else if (!dropLeading) sb.Append(' ');
        return sb.ToString();
    }
}
