using SharpLens.Tokenization.HuggingFace;

namespace SharpLens.Tokenization;

/// <summary>How <see cref="TokenizerLoader.Load"/> treats a model folder.</summary>
public sealed record TokenizerLoadOptions
{
    /// <summary>The model's d_vocab: the tokenizer's special tokens must fall inside it. Null = not checked.</summary>
    public int? ModelVocabSize { get; init; }
    /// <summary>Use GPT-2's bundled tokenizer when the folder ships no tokenizer files and the vocabulary holds GPT-2's
    /// 50,257 tokens (GPT-2 checkpoints saved without tokenizer files, random GPT-2-shaped models).</summary>
    public bool BundledGpt2Fallback { get; init; }
    /// <summary>TransformerLens' default_prepend_bos for the model's family, when the family sets it; null = true when
    /// the tokenizer has a BOS token of its own, false when it has none (Qwen), as TransformerLens sets it.</summary>
    public bool? DefaultPrependBos { get; init; }
}

/// <summary>A folder's tokenizer, or why it has none.</summary>
/// <param name="Tokenizer">The tokenizer, or null when the folder ships none.</param>
/// <param name="Missing">When <paramref name="Tokenizer"/> is null: what was looked for and where, as one phrase
/// (e.g. "models/tiny has no tokenizer.json or tokenizer.model").</param>
public sealed record TokenizerLoadResult(Tokenizer? Tokenizer, string? Missing)
{
    /// <summary>The tokenizer, or the one-line <see cref="InvalidInputException"/> saying that <paramref name="what"/>
    /// (e.g. "--prompt") needs one, what was looked for, and to give token ids (<paramref name="idsOption"/>) instead.</summary>
    public Tokenizer Require(string what, string idsOption = "--tokens") =>
        Tokenizer ?? throw NoTokenizerError(what, Missing ?? "there is no tokenizer", idsOption);

    /// <summary>The error for text where only token ids work.</summary>
    internal static InvalidInputException NoTokenizerError(string what, string missing, string idsOption = "--tokens") =>
        new($"{what} needs a tokenizer, but {missing}: give token ids instead (e.g. {idsOption} 1,2,3)");
}

/// <summary>
/// Loads the tokenizer of a model folder: <c>tokenizer.json</c> (Hugging Face tokenizers: byte-level BPE as in GPT-2,
/// Llama 3, Qwen and GPT-NeoX, SentencePiece-style BPE with byte fallback as in Llama 2 and Mistral), else
/// <c>tokenizer.model</c> (SentencePiece BPE, through Microsoft.ML.Tokenizers), each with tokenizer_config.json /
/// special_tokens_map.json for the special tokens; else GPT-2's bundled tokenizer where
/// <see cref="TokenizerLoadOptions.BundledGpt2Fallback"/> allows it; else none (the model then takes token ids only).
/// </summary>
public static class TokenizerLoader
{
    /// <summary>The files a folder's tokenizer is read from, in the order they are looked for.</summary>
    public static IReadOnlyList<string> LookedFor { get; } = ["tokenizer.json", "tokenizer.model"];

    /// <summary>The tokenizer of <paramref name="folder"/> (see <see cref="TokenizerLoader"/>); a malformed,
    /// inconsistent or unsupported tokenizer file is an <see cref="InvalidInputException"/> naming the file and the field.</summary>
    public static TokenizerLoadResult Load(string folder, TokenizerLoadOptions? options = null)
    {
        options ??= new TokenizerLoadOptions();
        string json = Path.Combine(folder, "tokenizer.json"), model = Path.Combine(folder, "tokenizer.model");
        foreach (string file in new[] { json, model })
            if (Directory.Exists(file))
                throw new InvalidInputException($"{Path.GetFileName(file)} in {folder} is a folder, not a file: restore the file from the model's repository, or remove the folder");
        if (File.Exists(json)) return new(FromTokenizerJson(folder, json, options), null);
        if (File.Exists(model)) return new(FromSentencePieceModel(folder, model, options), null);
        if (options.BundledGpt2Fallback && options.ModelVocabSize >= Gpt2Tokenizer.EndOfText + 1)
            return new(new Gpt2Tokenizer(), null);
        string vocab = options.BundledGpt2Fallback && options.ModelVocabSize is int v ? $" (and its vocabulary of {v} is not GPT-2's)" : "";
        return new(null, $"{folder} has no {string.Join(" or ", LookedFor)}{vocab}");
    }

    private static HfTokenizer FromTokenizerJson(string folder, string path, TokenizerLoadOptions options)
    {
        var json = TokenizerJson.Load(path);
        var config = TokenizerConfig.Load(folder);
        int? Id(string token) => json.TokenToId.TryGetValue(token, out int id) ? id : null;
        string? Text(int id) => id < json.IdToToken.Length ? json.IdToToken[id] : null;
        var special = Specials(config, Id, json.Template.Prefix.Select(Text).FirstOrDefault(), "tokenizer.json", options);
        foreach (int id in json.Template.Prefix.Concat(json.Template.Suffix))
            if (id >= json.IdToToken.Length || json.IdToToken[id] is null)
                throw new InvalidInputException($"tokenizer.json: post_processor adds token id {id}, which is neither in model.vocab nor in added_tokens: fix the post-processor's special_tokens");
        // LlamaTokenizerFast and its kin rebuild the post-processor from add_bos_token/add_eos_token; TransformerLens
        // loads them with add_bos_token=True.
        var template = config.RebuildsTemplate
            ? ((int[])[special.BosId], config.AddEosToken == true ? (int[])[special.EosId] : [])
            : json.Template;
        return new HfTokenizer(json, special, template);
    }

    private static SentencePieceModelTokenizer FromSentencePieceModel(string folder, string path, TokenizerLoadOptions options)
    {
        var sp = SentencePieceModelTokenizer.Read(path);
        var config = TokenizerConfig.Load(folder);
        int? Id(string token) => sp.Vocabulary.TryGetValue(token, out int id) ? id : null;
        // Without tokenizer_config.json the model's own BOS/EOS pieces are the special tokens.
        if (!config.BosGiven) config = config with { Bos = sp.BeginningOfSentenceToken, BosGiven = true };
        if (!config.EosGiven) config = config with { Eos = sp.EndOfSentenceToken, EosGiven = true };
        var special = Specials(config, Id, null, "tokenizer.model", options);
        // Only Llama-style tokenizers ship tokenizer.model; TransformerLens loads them with add_bos_token=True.
        return new SentencePieceModelTokenizer(sp, special, addsBos: true, addsEos: config.AddEosToken == true);
    }

    /// <summary>BOS, EOS and pad as the config files name them (BOS = EOS when there is no BOS token, pad = EOS when
    /// there is no pad token, as TransformerLens' set_tokenizer does); every named token must be in the vocabulary.</summary>
    private static string? Known(Func<string, int?> id, params string[] names) => names.FirstOrDefault(t => id(t) is not null);

    private static SpecialTokens Specials(TokenizerConfig config, Func<string, int?> id, string? templateBos, string file,
        TokenizerLoadOptions options)
    {
        // Tokens the config files do not mention (GPT-2's tokenizer_config.json names none: its class supplies
        // "<|endoftext|>") are the post-processor's first special token or a conventional name; an explicit null
        // (Qwen's bos_token) stays null.
        string? bos = config.BosGiven ? config.Bos : templateBos ?? Known(id, "<|endoftext|>", "<s>", "<|begin_of_text|>", "<bos>");
        string? eos = config.EosGiven ? config.Eos : Known(id, "<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>");
        string where = config.Source.Length == 0 ? file : config.Source;
        int? Resolve(string? token, string field)
        {
            if (token is null) return null;
            int found = id(token) ?? throw new InvalidInputException(
                $"{where}: {field} {Tokenizer.Quote(token)} is not a token of {file}: the tokenizer files do not belong together; restore them from the model's repository");
            if (found >= options.ModelVocabSize)
                throw new InvalidInputException(
                    $"{file}: {field} {Tokenizer.Quote(token)} is token {found}, outside the model's vocabulary of {options.ModelVocabSize} (config.json vocab_size): the tokenizer does not belong to this model");
            return found;
        }
        int? bosId = Resolve(bos, "bos_token"), eosId = Resolve(eos, "eos_token"), padId = Resolve(config.Pad, "pad_token");
        if (bosId is null && eosId is null)
            throw new InvalidInputException(
                $"{where} names no bos_token or eos_token that {file} has: add tokenizer_config.json with \"bos_token\" and \"eos_token\" from the model's repository");
        return new SpecialTokens(bos ?? eos!, bosId ?? eosId!.Value, eosId ?? bosId!.Value, padId ?? eosId ?? bosId!.Value,
            options.DefaultPrependBos ?? bosId is not null);
    }
}
