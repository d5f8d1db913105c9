using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// A regular expression matched over code points, as Hugging Face tokenizers' Oniguruma (and Python's <c>regex</c>)
/// match it. .NET matches UTF-16 units: a character outside the Basic Multilingual Plane is two surrogates, neither a
/// letter nor a digit, so <c>\p{L}+</c> would stop at "𝔘" in "a𝔘b". Text with surrogate pairs is therefore matched in
/// a view where each pair is one stand-in character of the same Unicode category (never whitespace, never a character
/// of the pattern, without an ASCII case partner), and the matches are mapped back.
/// </summary>
internal sealed class CodePointRegex
{
    /// <summary>How long one match may take before the tokenizer gives up (a tokenizer file's pattern could
    /// backtrack catastrophically on some text).</summary>
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(10);
    private readonly Regex _regex;
    private readonly Dictionary<UnicodeCategory, char> _standIns;

    /// <summary>Compiles <paramref name="pattern"/>; an invalid one is an <see cref="ArgumentException"/>.</summary>
    public CodePointRegex(string pattern)
    {
        _regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
        _standIns = StandIns(pattern);
    }

    /// <summary>The pattern.</summary>
    public override string ToString() => _regex.ToString();

    /// <summary>Every match of the pattern in <paramref name="text"/>, left to right, as (start, length) in UTF-16 units.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        try { return MatchesOrTimeout(text); }
        catch (RegexMatchTimeoutException)
        {
            throw new InvalidInputException(
                $"the tokenizer's pattern {Tokenizer.Quote(_regex.ToString())} ran for more than {MatchTimeout.TotalSeconds:0} s on one text: the tokenizer file's regular expression backtracks too much; fix it or give token ids (--tokens)");
        }
    }

    private List<(int Start, int Length)> MatchesOrTimeout(string text)
    {
        var result = new List<(int, int)>();
        if (!text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            for (var m = _regex.Match(text); m.Success; m = m.NextMatch()) result.Add((m.Index, m.Length));
            return result;
        }
        // view[i] stands for text[origin[i]..origin[i+1]].
        var view = new StringBuilder(text.Length);
        var origin = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            origin.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                && _standIns.TryGetValue(CharUnicodeInfo.GetUnicodeCategory(text, i), out char standIn))
            {
                view.Append(standIn);
                i++;
            }
            else view.Append(text[i]);
        }
        origin.Add(text.Length);
        for (var m = _regex.Match(view.ToString()); m.Success; m = m.NextMatch())
            result.Add((origin[m.Index], origin[m.Index + m.Length] - origin[m.Index]));
        return result;
    }

    private static Dictionary<UnicodeCategory, char> StandIns(string pattern)
    {
        var found = new Dictionary<UnicodeCategory, char>();
        for (int c = 0x400; c < 0xFFFE && found.Count < 30; c++)
        {
            char ch = (char)c;
            if (char.IsSurrogate(ch)) continue;
            var category = CharUnicodeInfo.GetUnicodeCategory(ch);
            if (found.ContainsKey(category) || char.IsWhiteSpace(ch) || pattern.Contains(ch)) continue;
            if (char.ToLowerInvariant(ch) < 0x80 || char.ToUpperInvariant(ch) < 0x80) continue;
            found[category] = ch;
        }
        return found;
    }
}
