using System.Globalization;

namespace SharpLens.Neurons;

/// <summary>What an index was built from and how far it got (the meta table).</summary>
public sealed record IndexProvenance
{
    /// <summary>The model: its hub id (e.g. <c>gpt2</c>) when it was loaded from the Hugging Face hub or cache, else the
    /// full path of its folder.</summary>
    public required string ModelId { get; init; }
    /// <summary>The hub commit the weights came from (<see cref="SharpLens.Model.ModelConfig.Revision"/>); empty for a local folder.</summary>
    public string ModelRevision { get; init; } = "";
    /// <summary><see cref="ModelFingerprint"/> of the weights indexed.</summary>
    public required string ModelHash { get; init; }
    /// <summary>Number of blocks of the model.</summary>
    public required int NLayers { get; init; }
    /// <summary>Neurons per MLP.</summary>
    public required int DMlp { get; init; }
    /// <summary>Vocabulary size.</summary>
    public required int DVocab { get; init; }
    /// <summary>Indexed layers, ascending.</summary>
    public required IReadOnlyList<int> Layers { get; init; }
    /// <summary>Window length in tokens, BOS included.</summary>
    public required int Context { get; init; }
    /// <summary>Examples kept per neuron.</summary>
    public required int TopK { get; init; }
    /// <summary>BOS token id prefixed to each window.</summary>
    public required int BosTokenId { get; init; }
    /// <summary>Corpus path and format.</summary>
    public required string Corpus { get; init; }
    /// <summary>SHA-256 of the corpus files.</summary>
    public required string CorpusHash { get; init; }
    /// <summary>Windows in the whole corpus, and tokens (BOS excluded).</summary>
    public required long CorpusWindows { get; init; }
    /// <summary>Tokens in the whole corpus (BOS excluded).</summary>
    public required long CorpusTokens { get; init; }
    /// <summary>Shards this index holds, e.g. "0/1" for a whole run, "0/4,2/4" after merging two of four shards.</summary>
    public required string Shards { get; init; }
    /// <summary>Windows of those shards in the corpus.</summary>
    public required long ShardWindows { get; init; }
    /// <summary>SharpLens version that wrote it.</summary>
    public required string SharpLensVersion { get; init; }
    /// <summary>When the index was started (UTC, ISO 8601).</summary>
    public required string Created { get; init; }
    /// <summary>Windows and tokens processed so far.</summary>
    public long WindowsDone { get; init; }
    /// <summary>Tokens processed so far (BOS excluded).</summary>
    public long TokensDone { get; init; }
    /// <summary>True when every window of <see cref="Shards"/> is in.</summary>
    public bool Complete { get; init; }

    internal Dictionary<string, string> ToMeta() => new()
    {
        ["model_id"] = ModelId, ["model_revision"] = ModelRevision, ["model_hash"] = ModelHash, ["n_layers"] = I(NLayers), ["d_mlp"] = I(DMlp), ["d_vocab"] = I(DVocab),
        ["layers"] = string.Join(",", Layers), ["context"] = I(Context), ["top_k"] = I(TopK), ["bos_token_id"] = I(BosTokenId),
        ["corpus"] = Corpus, ["corpus_hash"] = CorpusHash, ["corpus_windows"] = I(CorpusWindows), ["corpus_tokens"] = I(CorpusTokens),
        ["shards"] = Shards, ["shard_windows"] = I(ShardWindows), ["sharplens_version"] = SharpLensVersion, ["created"] = Created,
        ["windows_done"] = I(WindowsDone), ["tokens_done"] = I(TokensDone), ["complete"] = Complete ? "1" : "0",
    };

    internal static IndexProvenance FromMeta(IReadOnlyDictionary<string, string> m, string source)
    {
        string Get(string key) => m.TryGetValue(key, out var v) ? v
            : throw new InvalidInputException($"{source} is not a complete SharpLens neuron index (meta.{key} missing): rebuild it with sharplens neurons index");
        InvalidInputException Damaged(string key, string what) =>
            new($"{source} is a damaged neuron index: meta.{key} = '{Shorten(m[key])}' is not {what}: rebuild it with sharplens neurons index");
        long L(string key) => long.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v >= 0 ? v : throw Damaged(key, "a count");
        // Sizes bound what a reader allocates (a layer's maxima are [d_mlp]): a damaged file must not ask for gigabytes.
        int Size(string key, int max) => L(key) is var v && v >= 1 && v <= max ? (int)v : throw Damaged(key, $"a size between 1 and {max}");
        int nLayers = Size("n_layers", 4096);
        var layers = Get("layers").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s =>
            int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int l) && l >= 0 && l < nLayers ? l : throw Damaged("layers", $"a list of layers 0..{nLayers - 1}")).ToArray();
        return new IndexProvenance
        {
            ModelId = Get("model_id"), ModelRevision = m.GetValueOrDefault("model_revision", ""), ModelHash = Get("model_hash"), NLayers = nLayers,
            DMlp = Size("d_mlp", 1 << 20), DVocab = Size("d_vocab", 1 << 24), Layers = layers,
            Context = Size("context", 1 << 20), TopK = Size("top_k", 1 << 20), BosTokenId = (int)Math.Min(L("bos_token_id"), int.MaxValue),
            Corpus = Get("corpus"), CorpusHash = Get("corpus_hash"), CorpusWindows = L("corpus_windows"), CorpusTokens = L("corpus_tokens"),
            Shards = Get("shards"), ShardWindows = L("shard_windows"), SharpLensVersion = Get("sharplens_version"), Created = Get("created"),
            WindowsDone = L("windows_done"), TokensDone = L("tokens_done"), Complete = Get("complete") == "1",
        };
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
