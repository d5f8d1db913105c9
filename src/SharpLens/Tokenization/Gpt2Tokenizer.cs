using Microsoft.ML.Tokenizers;

namespace SharpLens.Tokenization;

/// <summary>
/// GPT-2's byte-level BPE from the tiktoken data bundled with Microsoft.ML.Tokenizers: the tokenizer of GPT-2
/// folders that ship no tokenizer files of their own (and of random GPT-2-shaped models). BOS, EOS and padding are
/// all <c>&lt;|endoftext|&gt;</c> (50256); GPT-2's tokenizer does not add BOS itself, so TransformerLens prepends it.
/// </summary>
public sealed class Gpt2Tokenizer : Tokenizer
{
    /// <summary>GPT-2's <c>&lt;|endoftext|&gt;</c> token id, used as BOS, EOS and padding.</summary>
    public const int EndOfText = 50256;
    private const string EndOfTextToken = "<|endoftext|>";
    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));
    private readonly TiktokenTokenizer _tokenizer;

    /// <summary>GPT-2's tokenizer; TransformerLens' default <c>prepend_bos</c> is true.</summary>
    public Gpt2Tokenizer() : base(new SpecialTokens(EndOfTextToken, EndOfText, EndOfText, EndOfText, DefaultPrependBos: true))
    {
        _tokenizer = Shared.Value;
    }

    /// <summary>GPT-2's vocabulary size, d_vocab = 50257.</summary>
    public override int VocabSize => 50257;

    private protected override int[] EncodeWithSpecialTokens(string text) => [.. _tokenizer.EncodeToIds(text)];

    private protected override string DecodeIds(IReadOnlyList<int> ids) => _tokenizer.Decode(ids) ?? "";
}
