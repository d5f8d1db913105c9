using System.Text.Json;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> read and checked: a BPE model (vocab; merges as "a b" strings or ["a", "b"]
/// pairs; unk token, fuse_unk, byte_fallback, ignore_merges, subword prefix/suffix), added tokens, normalizer,
/// pre-tokenizer, post-processor and decoder. Anything malformed, inconsistent or unsupported is one
/// <see cref="InvalidInputException"/> naming the file and the field.
/// </summary>
internal sealed class TokenizerJson
{
    public required BpeModel Model { get; init; }
    public required IReadOnlyList<AddedToken> AddedTokens { get; init; }
    public required Func<string, string>? Normalizer { get; init; }
    public required Action<Piece, List<Piece>>? PreTokenizer { get; init; }
    public required Func<List<string>, List<string>>? Decoder { get; init; }
    /// <summary>Ids the post-processor puts before and after a single sequence (TemplateProcessing, Roberta/Bert
    /// processing); ByteLevel post-processing changes only offsets.</summary>
    public required (int[] Prefix, int[] Suffix) Template { get; init; }
    /// <summary>Token text by id (model vocabulary and added tokens).</summary>
    public required string?[] IdToToken { get; init; }
    /// <summary>Token id by text (model vocabulary and added tokens).</summary>
    public required Dictionary<string, int> TokenToId { get; init; }

    /// <summary>Reads <paramref name="path"/>.</summary>
    public static TokenizerJson Load(string path)
    {
        string file = Path.GetFileName(path);
        using var doc = TokenizerFiles.ParseJson(path);
        var root = JsonNodeReader.Root(doc, file);
        var model = root.Field("model");
        if (model.IsNull) throw model.Error("is missing: a tokenizer.json needs its model (vocabulary and merges)");
        string type = model.OptionalString("type") ?? (model.Field("merges").IsNull ? "untyped" : "BPE");
        if (type != "BPE") throw model.Unsupported("model", type, "BPE models (byte-level as in GPT-2, Llama 3, Qwen, GPT-NeoX; SentencePiece-style with byte fallback as in Llama 2 and Mistral)");
        if (!model.Field("dropout").IsNull && model.Field("dropout").Element.ValueKind == JsonValueKind.Number && model.Field("dropout").Element.GetDouble() > 0)
            throw model.Field("dropout").Error("BPE dropout samples a different tokenization on every call: set it to null");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in model.Field("vocab").Members()) vocab[token] = id.AsId();
        if (vocab.Count == 0) throw model.Field("vocab").Error("is empty: a BPE model needs its vocabulary");
        var settings = new BpeSettings(model.OptionalString("unk_token"), model.Bool("fuse_unk", false), model.Bool("byte_fallback", false),
            model.Bool("ignore_merges", false), model.OptionalString("continuing_subword_prefix"), model.OptionalString("end_of_word_suffix"));
        if (settings.UnkToken is string unk && !vocab.ContainsKey(unk))
            throw model.Field("unk_token").Error($"\"{unk}\" is not in model.vocab: add it to the vocabulary or set unk_token to null");
        var merges = Merges(model, vocab, settings.ContinuingSubwordPrefix);

        var added = root.Field("added_tokens").IsNull ? [] : root.Array("added_tokens").Select(AddedToken).ToList();
        int size = Math.Max(vocab.Values.Max(), added.Count == 0 ? -1 : added.Max(t => t.Id)) + 1;
        var idToToken = new string?[size];
        var tokenToId = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var (token, id) in vocab) idToToken[id] = token;
        foreach (var t in added)
        {
            idToToken[t.Id] = t.Content;
            tokenToId[t.Content] = t.Id;
        }
        return new TokenizerJson
        {
            Model = new BpeModel(vocab, merges, settings),
            AddedTokens = added,
            Normalizer = Normalizers.Read(root.Field("normalizer")),
            PreTokenizer = PreTokenizers.Read(root.Field("pre_tokenizer")),
            Decoder = Decoders.Read(root.Field("decoder")),
            Template = PostProcessor(root.Field("post_processor"), tokenToId),
            IdToToken = idToToken,
            TokenToId = tokenToId,
        };
    }

    private static Dictionary<(int, int), (int, int)> Merges(JsonNodeReader model, Dictionary<string, int> vocab, string? prefix)
    {
        var merges = new Dictionary<(int, int), (int, int)>();
        int rank = 0;
        foreach (var m in model.Field("merges").IsNull ? [] : model.Array("merges"))
        {
            string left, right;
            if (m.Element.ValueKind == JsonValueKind.String)
            {
                var parts = m.AsString().Split(' ');
                if (parts.Length != 2) throw m.Error($"{Tokenizer.Quote(m.AsString())} is not a merge: write \"left right\" (one space) or [\"left\", \"right\"]");
                (left, right) = (parts[0], parts[1]);
            }
            else
            {
                var pair = m.Items().ToList();
                if (pair.Count != 2) throw m.Error("is not a merge: write \"left right\" or [\"left\", \"right\"]");
                (left, right) = (pair[0].AsString(), pair[1].AsString());
            }
            // With a continuing-subword prefix, "##a" + "##b" makes "##ab".
            string merged = left + (prefix is not null && right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right);
            if (!vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r) || !vocab.TryGetValue(merged, out int id))
                throw m.Error($"merges {Tokenizer.Quote(left)} and {Tokenizer.Quote(right)} into tokens missing from model.vocab: the vocabulary and merges do not belong together");
            merges.TryAdd((l, r), (rank, id));
            rank++;
        }
        return merges;
    }

    private static AddedToken AddedToken(JsonNodeReader t)
    {
        string content = t.String("content");
        if (content.Length == 0) throw t.Field("content").Error("is empty: an added token needs text");
        return new AddedToken(t.Id("id"), content, t.Bool("special", false), t.Bool("normalized", !t.Bool("special", false)),
            t.Bool("single_word", false), t.Bool("lstrip", false), t.Bool("rstrip", false));
    }

    /// <summary>The ids the post-processor adds around one sequence.</summary>
    private static (int[] Prefix, int[] Suffix) PostProcessor(JsonNodeReader node, Dictionary<string, int> tokenToId)
    {
        if (node.IsNull) return ([], []);
        string type = node.Type();
        switch (type)
        {
            case "ByteLevel":
                return ([], []);
            case "Sequence":
                {
                    var prefix = new List<int>();
                    var suffix = new List<int>();
                    foreach (var p in node.Array("processors"))
                    {
                        var (pre, post) = PostProcessor(p, tokenToId);
                        prefix.InsertRange(0, pre);
                        suffix.AddRange(post);
                    }
                    return ([.. prefix], [.. suffix]);
                }
            case "RobertaProcessing" or "BertProcessing":
                return ([SpecialPair(node.Field("cls"))], [SpecialPair(node.Field("sep"))]);
            case "TemplateProcessing":
                {
                    var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                    foreach (var (name, value) in node.Field("special_tokens").Members())
                        specials[name] = value.Array("ids").Select(i => i.AsId()).ToArray();
                    var prefix = new List<int>();
                    var suffix = new List<int>();
                    bool seenSequence = false;
                    foreach (var piece in node.Array("single"))
                    {
                        if (!piece.Field("Sequence").IsNull) { seenSequence = true; continue; }
                        var special = piece.Field("SpecialToken");
                        string id = special.String("id");
                        if (!specials.TryGetValue(id, out var ids))
                            throw special.Field("id").Error($"\"{id}\" is not among post_processor.special_tokens: list it there with its ids");
                        (seenSequence ? suffix : prefix).AddRange(ids);
                    }
                    if (!seenSequence) throw node.Field("single").Error("has no {\"Sequence\": {\"id\": \"A\"}}: the template must place the text");
                    return ([.. prefix], [.. suffix]);
                }
            default:
                throw node.Unsupported("post-processor", type, "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
        }
    }

    /// <summary>A ["token", id] pair of Roberta/Bert processing.</summary>
    private static int SpecialPair(JsonNodeReader pair)
    {
        var items = pair.Items().ToList();
        if (items.Count != 2) throw pair.Error("must be [\"token\", id]");
        return items[1].AsId();
    }
}
