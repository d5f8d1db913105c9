using System.Text;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// A tokenizer read from a Hugging Face <c>tokenizer.json</c>, encoding as the <c>tokenizers</c> library does: added
/// tokens matched in the original text (then, for normalized added tokens, in the normalized text), the normalizer on
/// the text between them, the pre-tokenizer, the BPE model on each word, and the post-processor's special tokens.
/// </summary>
internal sealed class HfTokenizer : Tokenizer
{
    private readonly TokenizerJson _json;
    private readonly AddedTokenMatcher _rawAdded;
    private readonly AddedTokenMatcher _normalizedAdded;
    private readonly (int[] Prefix, int[] Suffix) _template;

    /// <summary>A tokenizer over a read <paramref name="json"/>, with <paramref name="template"/> in place of the
    /// file's post-processor (tokenizer classes such as LlamaTokenizerFast rebuild it from add_bos_token/add_eos_token).</summary>
    public HfTokenizer(TokenizerJson json, SpecialTokens special, (int[] Prefix, int[] Suffix) template) : base(special)
    {
        _json = json;
        _template = template;
        _rawAdded = new AddedTokenMatcher(json.AddedTokens.Where(t => !t.Normalized));
        _normalizedAdded = new AddedTokenMatcher(json.AddedTokens.Where(t => t.Normalized));
    }

    /// <inheritdoc/>
    public override int VocabSize => _json.IdToToken.Length;

    private protected override int[] EncodeWithSpecialTokens(string text)
    {
        var ids = new List<int>(_template.Prefix);
        text = WithoutLoneSurrogates(text);
        foreach (var (id, piece) in _rawAdded.Split(text, atStart: true))
        {
            if (id is int added) { ids.Add(added); continue; }
            string normalized = _json.Normalizer?.Invoke(piece.Text) ?? piece.Text;
            foreach (var (id2, part) in _normalizedAdded.Split(normalized, piece.AtStart))
            {
                if (id2 is int added2) { ids.Add(added2); continue; }
                if (part.Text.Length == 0) continue;
                if (_json.PreTokenizer is null) ids.AddRange(_json.Model.Tokenize(part.Text));
                else
                {
                    var words = new List<Piece>();
                    _json.PreTokenizer(part, words);
                    foreach (var w in words) ids.AddRange(_json.Model.Tokenize(w.Text));
                }
            }
        }
        ids.AddRange(_template.Suffix);
        return [.. ids];
    }

    private protected override string DecodeIds(IReadOnlyList<int> ids)
    {
        var tokens = ids.Select(id => _json.IdToToken[id] ?? "").ToList();
        return _json.Decoder is { } decoder ? string.Concat(decoder(tokens)) : string.Join(" ", tokens);
    }

    /// <summary>Rust strings (and so Hugging Face) cannot hold a lone surrogate; it becomes U+FFFD, which the
    /// normalizers can handle.</summary>
    private static string WithoutLoneSurrogates(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF')) return text;
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { sb.Append(text, i++, 2); continue; }
            sb.Append(char.IsSurrogate(text[i]) ? '\uFFFD' : text[i]);
        }
        return sb.ToString();
    }
}
