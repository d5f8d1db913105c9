using System.Text.Json.Nodes;
using SharpLens.Corpora;
using SharpLens.Tokenization;

namespace SharpLens.Training.Tasks;

/// <summary>
/// Text from a corpus (a text file, JSON Lines, a folder of them, or the Brown corpus: the neuron index's readers),
/// tokenized with the model's tokenizer, documents joined by EOS as GPT-2 was trained, and packed into windows of
/// sequence length − 1 tokens, each behind a BOS. The last tenth of the windows (at least one) is held out for the eval
/// loss; training visits the others in a new seeded order every epoch. Every next-token prediction after BOS counts.
/// </summary>
public sealed class CorpusTask : TrainingTask
{
    private readonly int[][] _train, _eval;
    private readonly Dictionary<(long Seed, long Epoch), int[]> _orders = [];

    /// <summary>Reads, tokenizes and packs <paramref name="corpus"/> (every document, now).</summary>
    /// <param name="corpus">the corpus</param>
    /// <param name="tokenizer">the model's tokenizer</param>
    /// <param name="sequenceLength">tokens per window, BOS included</param>
    /// <param name="dVocab">the model's vocabulary size (every id must fall inside it)</param>
    /// <param name="tokenizerFolder">the folder the tokenizer files come from (copied into the trained model's folder),
    /// or null for GPT-2's bundled tokenizer</param>
    public CorpusTask(Corpus corpus, Tokenizer tokenizer, int sequenceLength, int dVocab, string? tokenizerFolder)
    {
        TokenizerFolder = tokenizerFolder;
        if (sequenceLength < 2) throw new InvalidInputException($"a corpus needs sequences of at least 2 tokens (got {sequenceLength})");
        Corpus = corpus;
        SequenceLength = sequenceLength;
        BosTokenId = tokenizer.BosTokenId;
        var stream = new List<int>();
        foreach (var document in corpus.Documents())
        {
            stream.AddRange(tokenizer.ToTokens(document.Text, prependBos: false));
            stream.Add(tokenizer.EosTokenId);
        }
        int outside = stream.FirstOrDefault(id => (uint)id >= (uint)dVocab, -1);
        if (outside >= 0 || BosTokenId >= dVocab)
            throw new InvalidInputException($"the tokenizer gives id {Math.Max(outside, BosTokenId)}, outside the model's vocabulary of {dVocab}: use the model's own tokenizer");
        int width = sequenceLength - 1, windows = stream.Count / width;
        if (windows < 2) throw new InvalidInputException($"corpus {corpus.Root} holds {stream.Count} tokens, fewer than two windows of {width}: give more text or a shorter --seq-len");
        var all = Enumerable.Range(0, windows).Select(w => stream.GetRange(w * width, width).Prepend(BosTokenId).ToArray()).ToArray();
        int held = Math.Max(1, windows / 10);
        _train = all[..^held];
        _eval = all[^held..];
        Tokens = stream.Count;
    }

    /// <summary>Where the tokenizer's files are (null: GPT-2's bundled tokenizer, which the loader finds by vocabulary size).</summary>
    public string? TokenizerFolder { get; }

    /// <summary>The files of a tokenizer that are copied with it.</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles =
        ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"];

    /// <inheritdoc/>
    public override void WriteModelFiles(string folder)
    {
        if (TokenizerFolder is null || Path.GetFullPath(TokenizerFolder) == Path.GetFullPath(folder)) return;
        foreach (string file in TokenizerFiles)
        {
            string from = Path.Combine(TokenizerFolder, file), to = Path.Combine(folder, file);
            if (!File.Exists(from)) continue;
            File.Copy(from, to + ".tmp", overwrite: true);
            File.Move(to + ".tmp", to, overwrite: true);
        }
    }

    /// <summary>The corpus.</summary>
    public Corpus Corpus { get; }
    /// <summary>Tokens in the corpus (EOS separators included).</summary>
    public long Tokens { get; }
    /// <summary>The BOS id each window starts with.</summary>
    public int BosTokenId { get; }
    /// <inheritdoc/>
    public override string Name => "corpus";
    /// <inheritdoc/>
    public override int SequenceLength { get; }

    /// <inheritdoc/>
    public override TrainingBatch TrainBatch(long seed, long index, int size)
    {
        var sequences = new int[size][];
        for (int j = 0; j < size; j++)
        {
            long sample = index * size + j, epoch = sample / _train.Length;
            sequences[j] = _train[Order(seed, epoch)[sample % _train.Length]];
        }
        return TrainingBatch.EveryPosition(sequences);
    }

    /// <inheritdoc/>
    public override TrainingBatch EvalBatch(long seed, long index, int size) =>
        TrainingBatch.EveryPosition(Enumerable.Range(0, size).Select(j => _eval[(int)((index * size + j) % _eval.Length)]).ToArray());

    /// <inheritdoc/>
    public override string Describe() =>
        $"corpus {Corpus.Description}: {Tokens:N0} tokens in {_train.Length + _eval.Length:N0} windows of {SequenceLength} ({_eval.Length:N0} held out)";

    /// <summary>The task's settings for a checkpoint: the corpus path and its hash (checked again on resume) and where
    /// the tokenizer is.</summary>
    /// <param name="corpus">the corpus</param>
    /// <param name="sequenceLength">tokens per window, or null for n_ctx</param>
    /// <param name="tokenizerFolder">the tokenizer's folder, or null for GPT-2's bundled tokenizer</param>
    public static JsonObject Settings(Corpus corpus, int? sequenceLength, string? tokenizerFolder) => new()
    {
        ["name"] = "corpus", ["path"] = corpus.Root, ["sha256"] = corpus.ComputeHash(), ["sequence_length"] = sequenceLength,
        ["tokenizer"] = tokenizerFolder is null ? null : Path.GetFullPath(tokenizerFolder),
    };

    /// <summary>The task a checkpoint's settings describe: the corpus must still hash the same.</summary>
    /// <param name="settings">what <see cref="Settings"/> wrote</param>
    /// <param name="spec">the model</param>
    internal static CorpusTask FromSettings(JsonObject settings, TrainingModelConfig spec)
    {
        string path = (string?)settings["path"] ?? throw new InvalidInputException("a corpus task needs a path");
        var corpus = Corpus.Open(path);
        if ((string?)settings["sha256"] is string hash && corpus.ComputeHash() != hash)
            throw new InvalidInputException($"corpus {path} changed since the run started (its SHA-256 differs): resuming would not be exact; restore it or start a new run");
        string? folder = (string?)settings["tokenizer"];
        Tokenizer tokenizer = folder is null
            ? spec.Model.DVocab >= Gpt2Tokenizer.EndOfText + 1 ? new Gpt2Tokenizer()
                : throw new InvalidInputException($"text needs the model's tokenizer, and a new model of d_vocab {spec.Model.DVocab} has none: use d_vocab 50257 (GPT-2's tokenizer) or fine-tune a model folder that has one (--model)")
            : TokenizerLoader.Load(folder, new TokenizerLoadOptions { ModelVocabSize = spec.Model.DVocab, BundledGpt2Fallback = true }).Require("--corpus", "a synthetic --task");
        return new CorpusTask(corpus, tokenizer, (int?)settings["sequence_length"] ?? spec.Model.NCtx, spec.Model.DVocab, folder);
    }

    private int[] Order(long seed, long epoch)
    {
        lock (_orders)
        {
            if (_orders.TryGetValue((seed, epoch), out var order)) return order;
            if (_orders.Count > 4) _orders.Clear();
            order = Enumerable.Range(0, _train.Length).ToArray();
            new DeterministicRandom(seed, stream: 4, epoch).Shuffle(order.AsSpan());
            return _orders[(seed, epoch)] = order;
        }
    }
}
