namespace SharpLens.Tokenization;

/// <summary>
/// A model's tokenizer with TransformerLens' conveniences: <c>to_tokens</c> (with <c>prepend_bos</c>),
/// <c>to_str_tokens</c>, <c>to_single_token</c>, <c>to_string</c> and right-padded batches. Every tokenizer format
/// (GPT-2's bundled tiktoken data, Hugging Face <c>tokenizer.json</c>, SentencePiece <c>tokenizer.model</c>) sits
/// behind this one type; <see cref="TokenizerLoader"/> picks the one a model folder ships.
/// </summary>
/// <remarks>
/// BOS follows TransformerLens' <c>HookedTransformer.to_tokens</c>: the tokenizer is used as TransformerLens loads it
/// (with <c>add_bos_token=True</c> for the tokenizer classes that honour it), <see cref="TokenizerPrependsBos"/> says
/// whether that tokenizer adds BOS itself, and <c>prepend_bos</c> (default <see cref="DefaultPrependBos"/>) either
/// prepends the BOS text before tokenizing (when the tokenizer does not add it) or removes the first token (when it
/// does and <c>prepend_bos</c> is false). A prompt never gets two BOS tokens.
/// </remarks>
public abstract class Tokenizer
{
    /// <summary>Special tokens and BOS policy shared by every implementation.</summary>
    private protected Tokenizer(SpecialTokens special)
    {
        Special = special;
    }

    private protected SpecialTokens Special { get; }

    /// <summary>Number of token ids the tokenizer can produce (its vocabulary with added tokens): ids are 0..VocabSize-1.
    /// A model's d_vocab may be larger (embedding rows padded for speed); those extra ids never come out of a text.</summary>
    public abstract int VocabSize { get; }

    /// <summary>The beginning-of-sequence token's id that <c>prepend_bos</c> puts first. When the tokenizer has no BOS
    /// token of its own (Qwen) it is the EOS token, as TransformerLens' <c>set_tokenizer</c> makes it.</summary>
    public int BosTokenId => Special.BosId;

    /// <summary>The BOS token's text (e.g. <c>&lt;|endoftext|&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;|begin_of_text|&gt;</c>).</summary>
    public string BosToken => Special.Bos;

    /// <summary>The end-of-sequence token's id.</summary>
    public int EosTokenId => Special.EosId;

    /// <summary>The id that pads shorter prompts of a batch on the right: the pad token, else EOS (TransformerLens).</summary>
    public int PadTokenId => Special.PadId;

    /// <summary>TransformerLens' <c>cfg.default_prepend_bos</c>: whether <see cref="ToTokens(string, bool?)"/> puts BOS
    /// first when <c>prependBos</c> is not given. True except for models whose tokenizer has no BOS token (Qwen), as
    /// TransformerLens sets it per family.</summary>
    public bool DefaultPrependBos => Special.DefaultPrependBos;

    /// <summary>TransformerLens' <c>cfg.tokenizer_prepends_bos</c>: whether the tokenizer (as TransformerLens loads it)
    /// puts BOS in front of every encoding by itself, as Llama's and Mistral's do.</summary>
    public bool TokenizerPrependsBos => _prependsBos ??= EncodeWithSpecialTokens("") is [var first, ..] && first == BosTokenId;
    private bool? _prependsBos;

    /// <summary>Encodes <paramref name="text"/> as Hugging Face's <c>tokenizer(text)</c> does for TransformerLens:
    /// added tokens, normalizer, pre-tokenizer, model and the post-processor's special tokens (BOS/EOS).</summary>
    private protected abstract int[] EncodeWithSpecialTokens(string text);

    /// <summary>Decodes ids to text, special tokens included (<c>tokenizer.decode(ids, clean_up_tokenization_spaces=False)</c>).
    /// Every id is below <see cref="VocabSize"/>.</summary>
    private protected abstract string DecodeIds(IReadOnlyList<int> ids);

    /// <summary>
    /// At least as many characters as any one token stands for in a decoded text: the longest token decoded alone, plus
    /// one for a leading space a decoder may drop from a lone token. A text of n characters therefore has at least
    /// n / MaxTokenChars tokens (a character split over several tokens decodes, token by token, to at least as many
    /// characters), so a text too long for a context can be refused without tokenizing it.
    /// </summary>
    public int MaxTokenChars => _maxTokenChars ??= Enumerable.Range(0, VocabSize).Max(id => DecodeIds([id]).Length) + 1;
    private int? _maxTokenChars;

    /// <summary>TransformerLens' <c>to_tokens</c> of one text: its token ids, BOS first when <paramref name="prependBos"/>
    /// (default <see cref="DefaultPrependBos"/>) is true, never twice.</summary>
    public int[] ToTokens(string text, bool? prependBos = null)
    {
        bool prepend = prependBos ?? DefaultPrependBos;
        if (TokenizerPrependsBos)
        {
            var ids = EncodeWithSpecialTokens(text);
            return prepend ? ids : ids[1..];   // TransformerLens' utils.get_tokens_with_bos_removed (right padding)
        }
        return EncodeWithSpecialTokens(prepend ? BosToken + text : text);
    }

    /// <summary>Several texts, each as <see cref="ToTokens(string, bool?)"/>, right-padded with <see cref="PadTokenId"/>
    /// into one [batch, pos] batch (TransformerLens' default padding side).</summary>
    public TokenBatch ToTokens(IReadOnlyList<string> texts, bool? prependBos = null) =>
        new(texts.Select(t => (IReadOnlyList<int>)ToTokens(t, prependBos)).ToList(), PadTokenId);

    /// <summary>TransformerLens' <c>to_str_tokens</c> of ids: each token decoded on its own, e.g.
    /// ["&lt;|endoftext|&gt;", "We", "'re", " helping"]. Ids past the tokenizer's vocabulary (padding rows of a larger
    /// embedding) show as "&lt;id&gt;".</summary>
    public string[] ToStrTokens(IReadOnlyList<int> ids) =>
        ids.Select(id => (uint)id < (uint)VocabSize ? DecodeIds([id]) : $"<{id}>").ToArray();

    /// <summary>TransformerLens' <c>to_str_tokens</c> of a text: its tokens (BOS as <see cref="ToTokens(string, bool?)"/>
    /// puts it), each decoded on its own.</summary>
    public string[] ToStrTokens(string text, bool? prependBos = null) => ToStrTokens(ToTokens(text, prependBos));

    /// <summary>TransformerLens' <c>to_single_token</c>: the id of a text that is exactly one token (tokenized without
    /// BOS); anything else is an <see cref="InvalidInputException"/> that shows the tokenization.</summary>
    public int ToSingleToken(string text) =>
        SingleTokenProblem(text, out int id) is string problem
            ? throw new InvalidInputException($"answer {problem}, not one: choose a single-token answer (mind the leading space)")
            : id;

    /// <summary>Null when <paramref name="text"/> is one token (its id in <paramref name="id"/>, else -1); otherwise
    /// its tokenization, e.g. <c>" 're" is 2 tokens [705 " '", 260 "re"]</c>.</summary>
    public string? SingleTokenProblem(string text, out int id)
    {
        var ids = text.Length == 0 ? [] : ToTokens(text, prependBos: false);
        id = ids.Length == 1 ? ids[0] : -1;
        return ids.Length == 1 ? null
            : $"{Quote(text)} is {ids.Length} tokens [{string.Join(", ", ids.Select(i => $"{i} {Quote(ToStrTokens([i])[0])}"))}]";
    }

    /// <summary>A text as a JSON string literal (quotes and control characters escaped, other characters as they are),
    /// the way tokens are shown in messages.</summary>
    public static string Quote(string text) => System.Text.Json.JsonSerializer.Serialize(text, QuoteOptions);
    private static readonly System.Text.Json.JsonSerializerOptions QuoteOptions =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>TransformerLens' <c>to_string</c>: decodes <paramref name="ids"/> to text (special tokens kept); an id
    /// outside the vocabulary is an <see cref="InvalidInputException"/>.</summary>
    public string ToString(IReadOnlyList<int> ids)
    {
        foreach (int id in ids)
            if ((uint)id >= (uint)VocabSize)
                throw new InvalidInputException($"token id {id} is outside the tokenizer's vocabulary (0..{VocabSize - 1})");
        return DecodeIds(ids);
    }
}

/// <summary>The special tokens a tokenizer knows and TransformerLens' BOS default for it.</summary>
/// <param name="Bos">BOS text (the EOS text when the tokenizer has no BOS token).</param>
/// <param name="BosId">BOS id.</param>
/// <param name="EosId">EOS id.</param>
/// <param name="PadId">Padding id.</param>
/// <param name="DefaultPrependBos">TransformerLens' <c>default_prepend_bos</c>.</param>
internal sealed record SpecialTokens(string Bos, int BosId, int EosId, int PadId, bool DefaultPrependBos);
