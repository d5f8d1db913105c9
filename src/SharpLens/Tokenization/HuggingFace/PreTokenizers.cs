using System.Globalization;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>A stretch of text on its way to the model; <paramref name="AtStart"/> says whether it begins the original
/// text (Hugging Face's <c>offsets_original().0 == 0</c>, which Metaspace's "first" prepend scheme reads).</summary>
internal readonly record struct Piece(string Text, bool AtStart);

/// <summary>How a split treats the matched delimiters (Hugging Face's <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>
/// tokenizer.json pre-tokenizers: ByteLevel (with or without GPT-2's regex, with or without a prefix space), Split
/// (a string or a regular expression, every delimiter behavior, inverted or not), Metaspace (replacement, prepend
/// scheme always/first/never, split or not), Digits and Sequence. Each turns one piece into pieces; empty pieces are dropped.
/// </summary>
internal static class PreTokenizers
{
    /// <summary>GPT-2's pre-tokenization regex, which ByteLevel uses when <c>use_regex</c> is true.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private static readonly Lazy<CodePointRegex> Gpt2Regex = new(() => new CodePointRegex(Gpt2Pattern));

    /// <summary>The pre-tokenizer a tokenizer.json <c>pre_tokenizer</c> object describes (null: the text is one word).</summary>
    public static Action<Piece, List<Piece>>? Read(JsonNodeReader node)
    {
        if (node.IsNull) return null;
        string type = node.Type();
        switch (type)
        {
            case "ByteLevel":
                return ByteLevel(node.Bool("add_prefix_space", true), node.Bool("use_regex", true));
            case "Split":
                {
                    var pattern = node.Pattern("pattern");
                    var behavior = Behavior(node.Field("behavior"));
                    bool invert = node.Bool("invert", false);
                    return (piece, output) => Split(piece, Segments(pattern.Matches(piece.Text), piece.Text.Length, invert), behavior, output);
                }
            case "Metaspace":
                {
                    string replacement = node.String("replacement");
                    if (replacement.Length != 1) throw node.Field("replacement").Error("must be a single character");
                    // Files before prepend_scheme existed say add_prefix_space (true = always).
                    string scheme = node.OptionalString("prepend_scheme") ?? (node.Bool("add_prefix_space", true) ? "always" : "never");
                    if (scheme is not ("always" or "first" or "never"))
                        throw node.Field("prepend_scheme").Error($"\"{scheme}\" is not a prepend scheme: use always, first or never");
                    return Metaspace(replacement[0], scheme, node.Bool("split", true));
                }
            case "Digits":
                {
                    var behavior = node.Bool("individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous;
                    return (piece, output) => Split(piece, CharSegments(piece.Text, IsNumeric), behavior, output);
                }
            case "Sequence":
                {
                    var steps = node.Array("pretokenizers").Select(Read).OfType<Action<Piece, List<Piece>>>().ToArray();
                    return (piece, output) =>
                    {
                        var pieces = new List<Piece> { piece };
                        foreach (var step in steps)
                        {
                            var next = new List<Piece>();
                            foreach (var p in pieces) step(p, next);
                            pieces = next;
                        }
                        output.AddRange(pieces);
                    };
                }
            default:
                throw node.Unsupported("pre-tokenizer", type, "ByteLevel, Split, Metaspace, Digits, Sequence");
        }
    }

    private static SplitBehavior Behavior(JsonNodeReader node)
    {
        string value = node.AsString();
        // Serialized as "Isolated" (serde) or "isolated" (older Python-written files).
        return Enum.TryParse<SplitBehavior>(value.Replace("_", ""), ignoreCase: true, out var b) ? b
            : throw node.Error($"\"{value}\" is not a split behavior: use Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
    }

    private static Action<Piece, List<Piece>> ByteLevel(bool addPrefixSpace, bool useRegex) => (piece, output) =>
    {
        string text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
        if (!useRegex)
        {
            if (text.Length > 0) output.Add(new Piece(ByteLevelAlphabet.Encode(text), piece.AtStart));
            return;
        }
        var words = new List<Piece>();
        Split(piece with { Text = text }, Segments(Gpt2Regex.Value.Matches(text), text.Length, invert: false), SplitBehavior.Isolated, words);
        foreach (var w in words) output.Add(w with { Text = ByteLevelAlphabet.Encode(w.Text) });
    };

    private static Action<Piece, List<Piece>> Metaspace(char replacement, string scheme, bool split) => (piece, output) =>
    {
        string text = piece.Text.Replace(' ', replacement);
        bool prepend = scheme == "always" || (scheme == "first" && piece.AtStart);
        if (prepend && !text.StartsWith(replacement)) text = replacement + text;
        if (!split)
        {
            if (text.Length > 0) output.Add(piece with { Text = text });
            return;
        }
        Split(piece with { Text = text }, CharSegments(text, c => c == replacement), SplitBehavior.MergedWithNext, output);
    };

    // Rust's char::is_numeric: the Nd, Nl and No categories.
    private static bool IsNumeric(string text, int i) =>
        CharUnicodeInfo.GetUnicodeCategory(text, i) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    private static List<(int Start, int End, bool Match)> CharSegments(string text, Func<char, bool> isDelimiter) =>
        CharSegments(text, (t, i) => isDelimiter(t[i]));

    /// <summary>Each character (code point) the predicate accepts is a match of its own; the runs between are gaps.</summary>
    private static List<(int Start, int End, bool Match)> CharSegments(string text, Func<string, int, bool> isMatch)
    {
        var segments = new List<(int, int, bool)>();
        int gapStart = 0;
        for (int i = 0; i < text.Length;)
        {
            int width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            if (isMatch(text, i))
            {
                if (gapStart < i) segments.Add((gapStart, i, false));
                segments.Add((i, i + width, true));
                gapStart = i + width;
            }
            i += width;
        }
        if (gapStart < text.Length) segments.Add((gapStart, text.Length, false));
        return segments;
    }

    /// <summary>Matches and the gaps between them, in order (Hugging Face's <c>find_matches</c>); inverted, the gaps
    /// are the delimiters.</summary>
    private static List<(int Start, int End, bool Match)> Segments(List<(int Start, int Length)> matches, int length, bool invert)
    {
        var segments = new List<(int, int, bool)>();
        int at = 0;
        foreach (var (start, len) in matches)
        {
            if (start > at) segments.Add((at, start, invert));
            segments.Add((start, start + len, !invert));
            at = start + len;
        }
        if (at < length) segments.Add((at, length, invert));
        return segments;
    }

    /// <summary>Cuts <paramref name="piece"/> at its delimiter segments as <paramref name="behavior"/> says (Hugging
    /// Face's <c>NormalizedString::split</c>) and adds the non-empty parts to <paramref name="output"/>.</summary>
    private static void Split(Piece piece, List<(int Start, int End, bool Match)> segments, SplitBehavior behavior, List<Piece> output)
    {
        var parts = new List<(int Start, int End)>();
        bool previousMatch = false;
        switch (behavior)
        {
            case SplitBehavior.Removed:
                parts.AddRange(segments.Where(s => !s.Match).Select(s => (s.Start, s.End)));
                break;
            case SplitBehavior.Isolated:
                parts.AddRange(segments.Select(s => (s.Start, s.End)));
                break;
            case SplitBehavior.MergedWithPrevious:
                foreach (var s in segments)
                {
                    if (s.Match && !previousMatch && parts.Count > 0) parts[^1] = (parts[^1].Start, s.End);
                    else parts.Add((s.Start, s.End));
                    previousMatch = s.Match;
                }
                break;
            case SplitBehavior.MergedWithNext:
                for (int i = segments.Count - 1; i >= 0; i--)
                {
                    var s = segments[i];
                    if (s.Match && !previousMatch && parts.Count > 0) parts[^1] = (s.Start, parts[^1].End);
                    else parts.Add((s.Start, s.End));
                    previousMatch = s.Match;
                }
                parts.Reverse();
                break;
            case SplitBehavior.Contiguous:
                for (int i = 0; i < segments.Count; i++)
                {
                    var s = segments[i];
                    if (i > 0 && s.Match == previousMatch) parts[^1] = (parts[^1].Start, s.End);
                    else parts.Add((s.Start, s.End));
                    previousMatch = s.Match;
                }
                break;
        }
        foreach (var (start, end) in parts)
            if (end > start) output.Add(new Piece(piece.Text[start..end], piece.AtStart && start == 0));
    }
}
