namespace SharpLens.Tokenization;

/// <summary>How <see cref="TokenizerLoader.Load"/> treats a model folder.</summary>
public sealed record TokenizerLoadOptions
{
    /// <summary>The model's d_vocab: the tokenizer's special tokens must fall inside it. Null = not checked.</summary>
    public int? ModelVocabSize { get; init; }
    /// <summary>Use GPT-2's bundled tokenizer when the folder ships no tokenizer files and the vocabulary holds GPT-2's
    /// 50,257 tokens (GPT-2 checkpoints saved without tokenizer files, random GPT-2-shaped models).</summary>
    public bool BundledGpt2Fallback { get; init; }
}

/// <summary>A folder's tokenizer, or why it has none.</summary>
/// <param name="Tokenizer">The tokenizer, or null when the folder ships none.</param>
/// <param name="Missing">When <paramref name="Tokenizer"/> is null: what was looked for and where, as one phrase
/// (e.g. "models/tiny has no tokenizer.json, tokenizer.model or vocab.json + merges.txt").</param>
public sealed record TokenizerLoadResult(Tokenizer? Tokenizer, string? Missing)
{
    /// <summary>The tokenizer, or the one-line <see cref="InvalidInputException"/> saying that <paramref name="what"/>
    /// (e.g. "--prompt") needs one, what was looked for, and to give token ids instead.</summary>
    public Tokenizer Require(string what) => Tokenizer ?? throw NoTokenizerError(what, Missing ?? "there is no tokenizer");

    /// <summary>The error for text where only token ids work.</summary>
    internal static InvalidInputException NoTokenizerError(string what, string missing) =>
        new($"{what} needs a tokenizer, but {missing}: give token ids instead (e.g. --tokens 1,2,3)");
}

/// <summary>
/// Loads the tokenizer of a model folder: the folder's own files when present, else GPT-2's bundled tokenizer where
/// <see cref="TokenizerLoadOptions.BundledGpt2Fallback"/> allows it, else none (the model then takes token ids only).
/// </summary>
public static class TokenizerLoader
{
    /// <summary>The files a folder's tokenizer is read from, in the order they are looked for.</summary>
    public static IReadOnlyList<string> LookedFor { get; } = ["tokenizer.json", "tokenizer.model", "vocab.json + merges.txt"];

    /// <summary>The tokenizer of <paramref name="folder"/> (see <see cref="TokenizerLoader"/>); a malformed tokenizer
    /// file is an <see cref="InvalidInputException"/> naming the file and the field.</summary>
    public static TokenizerLoadResult Load(string folder, TokenizerLoadOptions? options = null)
    {
        options ??= new TokenizerLoadOptions();
        if (options.BundledGpt2Fallback && options.ModelVocabSize >= Gpt2Tokenizer.EndOfText + 1)
            return new(new Gpt2Tokenizer(), null);
        string vocab = options.ModelVocabSize is int v ? $" and its vocabulary of {v} is not GPT-2's" : "";
        return new(null, $"{folder} has no {string.Join(", ", LookedFor.Take(LookedFor.Count - 1))} or {LookedFor[^1]}{vocab}");
    }
}
