using Microsoft.ML.Tokenizers;

namespace SharpLens.Tokenization;

/// <summary>
/// GPT-2's byte-level BPE (Microsoft.ML.Tokenizers with its bundled GPT-2 data), with TransformerLens'
/// conveniences: to_tokens (BOS prepended by default), to_str_tokens, to_single_token, to_string.
/// </summary>
public sealed class Gpt2Tokenizer
{
    /// <summary>GPT-2's <c>&lt;|endoftext|&gt;</c> token id, used as BOS and as padding.</summary>
    public const int EndOfText = 50256;
    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));
    private readonly TiktokenTokenizer _tokenizer;

    /// <summary>A tokenizer that prepends <paramref name="bosTokenId"/> when asked to (TransformerLens' prepend_bos).</summary>
    public Gpt2Tokenizer(int bosTokenId = EndOfText)
    {
        _tokenizer = Shared.Value;
        BosTokenId = bosTokenId;
    }

    /// <summary>The token prepended to prompts when prependBos is true.</summary>
    public int BosTokenId { get; }
    /// <summary>GPT-2's vocabulary size, d_vocab = 50257.</summary>
    public int VocabSize => 50257;

    /// <summary>Token ids of <paramref name="text"/>, with BOS first unless <paramref name="prependBos"/> is false.</summary>
    public int[] ToTokens(string text, bool prependBos = true)
    {
        var ids = _tokenizer.EncodeToIds(text);
        return prependBos ? [BosTokenId, .. ids] : [.. ids];
    }

    /// <summary>Several prompts, right-padded into one batch.</summary>
    public TokenBatch ToTokens(IReadOnlyList<string> texts, bool prependBos = true) =>
        new(texts.Select(t => (IReadOnlyList<int>)ToTokens(t, prependBos)).ToList(), EndOfText);

    /// <summary>Each token decoded on its own, e.g. ["&lt;|endoftext|&gt;", "We", "'re", " helping"].</summary>
    /// <remarks>Ids past GPT-2's vocabulary (padding rows of a larger embedding) show as "&lt;id&gt;".</remarks>
    public string[] ToStrTokens(IReadOnlyList<int> ids) =>
        ids.Select(id => (uint)id < (uint)VocabSize ? ToString([id]) : $"<{id}>").ToArray();

    /// <summary>TransformerLens' <c>to_str_tokens</c> of a text: its tokens (BOS first unless
    /// <paramref name="prependBos"/> is false), each decoded on its own.</summary>
    public string[] ToStrTokens(string text, bool prependBos = true) => ToStrTokens(ToTokens(text, prependBos));

    /// <summary>The id of a string that must be exactly one token ("'re" is one token; " 're" is two).</summary>
    public int ToSingleToken(string text)
    {
        var ids = _tokenizer.EncodeToIds(text);
        if (ids.Count != 1)
            throw new InvalidInputException(
                $"answer \"{text}\" is {ids.Count} tokens ({string.Join(" | ", ToStrTokens(ids).Select(s => $"\"{s}\""))}), not one: choose a single-token answer (mind the leading space)");
        return ids[0];
    }

    /// <summary>TransformerLens' <c>to_string</c>: decodes <paramref name="ids"/> to text; an id outside the vocabulary
    /// is an <see cref="InvalidInputException"/>.</summary>
    public string ToString(IReadOnlyList<int> ids)
    {
        foreach (int id in ids)
            if ((uint)id >= (uint)VocabSize)
                throw new InvalidInputException($"token id {id} is outside GPT-2's vocabulary (0..{VocabSize - 1})");
        return _tokenizer.Decode(ids) ?? "";
    }
}
