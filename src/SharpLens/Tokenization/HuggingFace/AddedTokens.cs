namespace SharpLens.Tokenization.HuggingFace;

/// <summary>One of tokenizer.json's <c>added_tokens</c>.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">Its text.</param>
/// <param name="Special">Special tokens (BOS, EOS, chat markers) as opposed to ordinary added words.</param>
/// <param name="Normalized">Matched in the normalized text (true) or in the original text (false).</param>
/// <param name="SingleWord">Matched only where it is not part of a longer word.</param>
/// <param name="LStrip">Takes the whitespace before it.</param>
/// <param name="RStrip">Takes the whitespace after it.</param>
internal sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool SingleWord, bool LStrip, bool RStrip);

/// <summary>
/// Finds added tokens in text as Hugging Face's <c>AddedVocabulary</c> does: leftmost-longest matches, skipping a
/// single-word token inside a word, widening lstrip/rstrip tokens over neighbouring whitespace. The text between
/// matches goes on to the normalizer, pre-tokenizer and model.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    /// <summary>A matcher over <paramref name="tokens"/> (non-empty contents).</summary>
    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    /// <summary>Whether there is nothing to match.</summary>
    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>
    /// <paramref name="text"/> cut into stretches, each either an added token (its id) or plain text (null), in order;
    /// <paramref name="atStart"/> says whether <paramref name="text"/> begins the original text, and each stretch gets
    /// the same flag when it begins where the text does.
    /// </summary>
    public List<(int? Id, Piece Piece)> Split(string text, bool atStart)
    {
        var result = new List<(int?, Piece)>();
        if (IsEmpty || text.Length == 0)
        {
            result.Add((null, new Piece(text, atStart)));
            return result;
        }
        int done = 0;
        for (int i = 0; i < text.Length;)
        {
            var token = LongestAt(text, i);
            if (token is null) { i++; continue; }
            int start = i, stop = i + token.Content.Length;
            i = stop;
            if (token.SingleWord && ((start > 0 && IsWordChar(text[start - 1])) || (stop < text.Length && IsWordChar(text[stop])))) continue;
            if (token.LStrip)
            {
                int s = start;
                while (s > done && char.IsWhiteSpace(text[s - 1])) s--;
                start = s;
            }
            if (token.RStrip)
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            if (done < start) result.Add((null, new Piece(text[done..start], atStart && done == 0)));
            result.Add((token.Id, new Piece(text[start..stop], atStart && start == 0)));
            done = i = stop;
        }
        if (done < text.Length) result.Add((null, new Piece(text[done..], atStart && done == 0)));
        return result;
    }

    private AddedToken? LongestAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return null;
        foreach (var t in candidates)
            if (i + t.Content.Length <= text.Length && string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) == 0) return t;
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
