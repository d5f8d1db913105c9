using System.Text.Json;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Inputs;

/// <summary>How <see cref="AnalysisInput"/> tokenizes and validates an input file.</summary>
public sealed record AnalysisInputOptions
{
    /// <summary>Tokenizer for prompts and answers given as text; null = only token ids are accepted.</summary>
    public Tokenizer? Tokenizer { get; init; }
    /// <summary>Why there is no <see cref="Tokenizer"/> (what was looked for), for the error on text input.</summary>
    public string MissingTokenizer { get; init; } = "no tokenizer was given";
    /// <summary>Token ids must be below this (the model's d_vocab).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Prompts (with BOS) may not be longer than this (the model's n_ctx).</summary>
    public required int ContextLength { get; init; }
    /// <summary>Id the right padding of ragged batches uses; null = the tokenizer's pad token (0 without a tokenizer).</summary>
    public int? PadId { get; init; }
    /// <summary>Prepend BOS to prompts given as text (token-id prompts are always used exactly as given); null = the
    /// tokenizer's default (TransformerLens' default_prepend_bos).</summary>
    public bool? PrependBos { get; init; }
    /// <summary>Require every corrupted prompt to have the same number of tokens as its clean prompt (needed for position-wise patching).</summary>
    public bool RequireAlignedLengths { get; init; } = true;

    /// <summary>Options for <paramref name="model"/>: its tokenizer (if any), d_vocab, n_ctx and BOS as padding.</summary>
    public static AnalysisInputOptions For(HookedTransformer model, bool requireAlignedLengths = true) => new()
    {
        Tokenizer = model.Tokenizer, MissingTokenizer = model.MissingTokenizer ?? "", VocabSize = model.Config.DVocab,
        ContextLength = model.Config.NCtx, PadId = model.Tokenizer?.PadTokenId ?? model.Config.BosTokenId, RequireAlignedLengths = requireAlignedLengths,
    };
}

/// <summary>
/// The prompts of a study, read from a JSON file:
/// <code>
/// {
///   "clean":     ["We're helping our friend when they", ...]   or  [[50256, 1135, 821, ...], ...],
///   "corrupted": [...same forms...]  or  "swap_pairs"  (or absent = "swap_pairs"),
///   "answers":   [["'re", " are"], ...]  or  [[821, 389], ...]   (one (correct, wrong) pair per clean prompt)
/// }
/// </code>
/// Text prompts are tokenized with BOS; token-id prompts are used exactly as given. Each text answer must be a
/// single token. "swap_pairs" builds the corrupted prompts by swapping prompts 2k and 2k+1 while keeping the clean
/// answers (as the contractions notebook does). Every problem is reported as a one-line <see cref="InvalidInputException"/>.
/// </summary>
public sealed class AnalysisInput
{
    /// <summary>The value of "corrupted" that builds the corrupted prompts by swapping pairs of clean prompts.</summary>
    public const string SwapPairs = "swap_pairs";

    /// <summary>The clean prompts, right-padded.</summary>
    public required TokenBatch Clean { get; init; }
    /// <summary>The corrupted prompts, right-padded; prompt b is the counterpart of clean prompt b.</summary>
    public required TokenBatch Corrupted { get; init; }
    /// <summary>(correct, wrong) token ids per prompt.</summary>
    public required (int Correct, int Wrong)[] Answers { get; init; }
    /// <summary>Each clean prompt's tokens as strings (TL to_str_tokens; the ids as text when there is no tokenizer).</summary>
    public required string[][] CleanStrTokens { get; init; }
    /// <summary>Each corrupted prompt's tokens as strings.</summary>
    public required string[][] CorruptedStrTokens { get; init; }
    /// <summary>Each clean prompt's text (as given, or decoded from its ids).</summary>
    public required string[] CleanTexts { get; init; }
    /// <summary>Each corrupted prompt's text (as given, or decoded from its ids).</summary>
    public required string[] CorruptedTexts { get; init; }
    /// <summary>True when the corrupted prompts were built by swapping pairs of clean prompts.</summary>
    public required bool CorruptedBySwappingPairs { get; init; }

    /// <summary>Number of prompt pairs.</summary>
    public int Count => Clean.Batch;

    /// <summary>Reads <paramref name="path"/> for <paramref name="model"/> (its tokenizer, vocabulary and context).</summary>
    public static AnalysisInput Load(string path, HookedTransformer model, bool requireAlignedLengths = true) =>
        Load(path, AnalysisInputOptions.For(model, requireAlignedLengths));

    /// <summary>Reads the input file at <paramref name="path"/> with explicit <paramref name="options"/>; a missing file
    /// or a bad field is an <see cref="InvalidInputException"/>.</summary>
    public static AnalysisInput Load(string path, AnalysisInputOptions options)
    {
        return Parse(InputFiles.ReadText(path, "analysis input file"), options, Path.GetFileName(path));
    }

    /// <summary>Parses the JSON text itself; <paramref name="source"/> names it in error messages.</summary>
    public static AnalysisInput Parse(string json, AnalysisInputOptions options, string source = "input")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, InputFiles.DocumentOptions(lenient: true));
        }
        catch (JsonException ex)
        {
            string reason = ex.Message.Split([" Path:", " LineNumber:"], StringSplitOptions.None)[0].Split('\n')[0].Trim();
            throw new InvalidInputException($"{source}: malformed JSON at line {(ex.LineNumber ?? 0) + 1}, column {(ex.BytePositionInLine ?? 0) + 1}: {reason}", ex);
        }
        using (doc) return new Reader(options, source).Read(doc.RootElement);
    }

    private sealed class Reader(AnalysisInputOptions options, string source)
    {
        private InvalidInputException Error(string message) => new($"{source}: {message}");

        public AnalysisInput Read(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
                throw Error($"the top level must be an object with \"clean\", \"answers\" and optionally \"corrupted\", not {Kind(root)}");
            var (clean, cleanTexts) = Prompts(root, "clean", required: true);

            bool swap;
            List<int[]> corrupted;
            string[] corruptedTexts;
            if (!root.TryGetProperty("corrupted", out var corr) || corr.ValueKind == JsonValueKind.Null
                || (corr.ValueKind == JsonValueKind.String && corr.GetString() == SwapPairs))
            {
                if (clean.Count % 2 != 0)
                    throw Error($"\"corrupted\": \"{SwapPairs}\" needs an even number of clean prompts, got {clean.Count}: add a prompt or give \"corrupted\" explicitly");
                swap = true;
                corrupted = Enumerable.Range(0, clean.Count).Select(i => clean[i ^ 1]).ToList();
                corruptedTexts = Enumerable.Range(0, clean.Count).Select(i => cleanTexts[i ^ 1]).ToArray();
            }
            else if (corr.ValueKind == JsonValueKind.String)
                throw Error($"\"corrupted\" must be a list of prompts or \"{SwapPairs}\", not \"{corr.GetString()}\"");
            else
            {
                swap = false;
                (corrupted, corruptedTexts) = Prompts(root, "corrupted", required: true);
                if (corrupted.Count != clean.Count)
                    throw Error($"{clean.Count} clean prompts but {corrupted.Count} corrupted prompts: give one corrupted prompt per clean prompt");
            }
            if (options.RequireAlignedLengths)
                for (int i = 0; i < clean.Count; i++)
                    if (clean[i].Length != corrupted[i].Length)
                        throw Error($"prompt {i}: clean has {clean[i].Length} tokens but corrupted has {corrupted[i].Length}{(swap ? $" (swapped with prompt {i ^ 1})" : "")}: position-aligned patching needs equal lengths");

            var answers = Answers(root, clean.Count);
            return new AnalysisInput
            {
                Clean = Batch(clean), Corrupted = Batch(corrupted), Answers = answers,
                CleanStrTokens = clean.Select(StrTokens).ToArray(), CorruptedStrTokens = corrupted.Select(StrTokens).ToArray(),
                CleanTexts = cleanTexts, CorruptedTexts = corruptedTexts, CorruptedBySwappingPairs = swap,
            };
        }

        private TokenBatch Batch(List<int[]> seqs) => new(seqs.Select(s => (IReadOnlyList<int>)s).ToList(), options.PadId ?? options.Tokenizer?.PadTokenId ?? 0);

        private string[] StrTokens(int[] ids) => options.Tokenizer is { } t && ids.All(id => id < t.VocabSize)
            ? t.ToStrTokens(ids) : ids.Select(id => id.ToString()).ToArray();

        private string Decode(int[] ids) => options.Tokenizer is { } t && ids.All(id => id < t.VocabSize)
            ? t.ToString(ids) : string.Join(" ", ids);

        private (List<int[]> Ids, string[] Texts) Prompts(JsonElement root, string key, bool required)
        {
            if (!root.TryGetProperty(key, out var list))
                throw Error($"\"{key}\" is missing: give a list of prompts (strings or token-id lists)");
            if (list.ValueKind != JsonValueKind.Array)
                throw Error($"\"{key}\" must be a list of prompts, not {Kind(list)}");
            if (list.GetArrayLength() == 0) throw Error($"\"{key}\" is an empty list: give at least one prompt");
            var ids = new List<int[]>();
            var texts = new List<string>();
            int i = 0;
            foreach (var item in list.EnumerateArray())
            {
                string where = $"{key}[{i}]";
                int[] seq;
                string text;
                if (item.ValueKind == JsonValueKind.String)
                {
                    text = item.GetString()!;
                    if (text.Length == 0) throw Error($"{where} is an empty string: give the prompt text");
                    var tok = options.Tokenizer ?? throw Error(
                        $"{where} is text but {options.MissingTokenizer}: give prompts as token-id lists");
                    seq = tok.ToTokens(text, options.PrependBos);
                }
                else if (item.ValueKind == JsonValueKind.Array)
                {
                    if (item.GetArrayLength() == 0) throw Error($"{where} is an empty token list: give at least one token id");
                    seq = item.EnumerateArray().Select((e, j) => TokenId(e, $"{where}[{j}]")).ToArray();
                    text = Decode(seq);
                }
                else throw Error($"{where} must be a string or a list of token ids, not {Kind(item)}");
                if (seq.Length > options.ContextLength)
                    throw Error($"{where} is {seq.Length} tokens, longer than the model's context of {options.ContextLength}: shorten it");
                ids.Add(seq); texts.Add(text); i++;
            }
            return (ids, texts.ToArray());
        }

        private (int, int)[] Answers(JsonElement root, int prompts)
        {
            if (!root.TryGetProperty("answers", out var list))
                throw Error("\"answers\" is missing: give one [correct, wrong] pair per prompt, e.g. [\"'re\", \" are\"]");
            if (list.ValueKind != JsonValueKind.Array) throw Error($"\"answers\" must be a list of [correct, wrong] pairs, not {Kind(list)}");
            if (list.GetArrayLength() == 0) throw Error("\"answers\" is an empty list: give one [correct, wrong] pair per prompt");
            if (list.GetArrayLength() != prompts)
                throw Error($"{list.GetArrayLength()} answer pairs for {prompts} prompts: give one [correct, wrong] pair per clean prompt");
            var result = new (int, int)[prompts];
            int i = 0;
            foreach (var pair in list.EnumerateArray())
            {
                string where = $"answers[{i}]";
                if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2)
                    throw Error($"{where} must be a pair [correct, wrong], not {(pair.ValueKind == JsonValueKind.Array ? $"a list of {pair.GetArrayLength()}" : Kind(pair))}");
                int a = Answer(pair[0], where + "[0]"), b = Answer(pair[1], where + "[1]");
                if (a == b) throw Error($"{where}: correct and wrong answer are the same token {a}: the logit difference would always be 0");
                result[i++] = (a, b);
            }
            return result;
        }

        private int Answer(JsonElement e, string where)
        {
            if (e.ValueKind != JsonValueKind.String) return TokenId(e, where);
            string text = e.GetString()!;
            var tok = options.Tokenizer ?? throw Error(
                $"{where} is text (\"{text}\") but {options.MissingTokenizer}: give answers as token ids");
            int id;
            try { id = tok.ToSingleToken(text); }
            catch (InvalidInputException ex) { throw Error($"{where}: {ex.Message}"); }
            if (id >= options.VocabSize) throw Error($"{where}: \"{text}\" is token {id}, outside the model's vocabulary (0..{options.VocabSize - 1})");
            return id;
        }

        private int TokenId(JsonElement e, string where)
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id))
                throw Error($"{where} must be an integer token id, not {(e.ValueKind == JsonValueKind.Number ? e.GetRawText() : Kind(e))}");
            if (id < 0 || id >= options.VocabSize)
                throw Error($"{where}: token id {id} is outside the model's vocabulary (0..{options.VocabSize - 1})");
            return id;
        }

        private static string Kind(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => "an object", JsonValueKind.Array => "a list", JsonValueKind.String => $"the string \"{e.GetString()}\"",
            JsonValueKind.Number => $"the number {e.GetRawText()}", JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };
    }
}
