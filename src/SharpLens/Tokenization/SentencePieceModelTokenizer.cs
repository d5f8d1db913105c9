using Microsoft.ML.Tokenizers;

namespace SharpLens.Tokenization;

/// <summary>
/// A SentencePiece <c>tokenizer.model</c> (BPE with byte fallback, as Llama 2 and Mistral ship it), encoded by
/// Microsoft.ML.Tokenizers' <see cref="LlamaTokenizer"/>. BOS comes from the tokenizer itself, as TransformerLens
/// loads Llama tokenizers (<c>add_bos_token=True</c>); EOS is appended when tokenizer_config.json's add_eos_token says so.
/// </summary>
internal sealed class SentencePieceModelTokenizer : Tokenizer
{
    private readonly SentencePieceTokenizer _tokenizer;
    private readonly bool _addsBos, _addsEos;

    /// <summary>A tokenizer over a loaded <paramref name="tokenizer"/>.</summary>
    public SentencePieceModelTokenizer(SentencePieceTokenizer tokenizer, SpecialTokens special, bool addsBos, bool addsEos) : base(special)
    {
        _tokenizer = tokenizer;
        _addsBos = addsBos;
        _addsEos = addsEos;
        VocabSize = tokenizer.Vocabulary.Values.Max() + 1;
    }

    /// <summary>Reads <paramref name="path"/>; a file that is not a SentencePiece model is a one-line error.</summary>
    public static SentencePieceTokenizer Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            // BOS/EOS are added per call (EncodeWithSpecialTokens), so the tokenizer itself adds neither.
            return LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidInputException(
                $"{Path.GetFileName(path)} is not a SentencePiece BPE model SharpLens can read ({e.Message.Split('\n')[0].Trim()}): restore the model's tokenizer.model, or give token ids (--tokens)");
        }
    }

    /// <inheritdoc/>
    public override int VocabSize { get; }

    // BOS/EOS are added here rather than by Microsoft.ML.Tokenizers, which adds none to an empty text (Hugging Face's
    // LlamaTokenizerFast encodes "" as [BOS]; TransformerLens' tokenizer_prepends_bos test reads exactly that).
    private protected override int[] EncodeWithSpecialTokens(string text) =>
        [.. _addsBos ? [BosTokenId] : (int[])[], .. _tokenizer.EncodeToIds(text, false, false, true, true), .. _addsEos ? [EosTokenId] : (int[])[]];

    private protected override string DecodeIds(IReadOnlyList<int> ids) => _tokenizer.Decode(ids, considerSpecialTokens: true) ?? "";
}
