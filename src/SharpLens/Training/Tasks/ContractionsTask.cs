using System.Text.Json.Nodes;
using SharpLens.Tokenization;

namespace SharpLens.Training.Tasks;

/// <summary>
/// <b>contractions</b>: sentences in the shape of the contractions study, "[opener] Subject AUX verb-phrase [fillers]
/// conjunction pronoun" → the pronoun's auxiliary in the style of the first clause: after "We're helping our friend when
/// they" the answer is "'re", after "We are helping our friend when they" it is " are" (and "'s"/" is", "'m"/" am",
/// "'ll"/" will", "'d"/" would" for other pronouns and verbs). Only the answer counts for the loss. The words are tokens
/// with GPT-2-style strings, and the model folder gets a word-level tokenizer.json, so the study machinery (text prompts,
/// single-token answers) runs on the trained model.
/// <para>Mechanism planted: a head at the final pronoun that attends to the first clause's auxiliary and copies its
/// style (contracted or full) through its values; the pronoun itself (directly) picks which auxiliary agrees with it.</para>
/// <para>Why nothing else works (docs/training.md): the style is carried by one token, the first auxiliary, and by
/// nothing else (subjects, verbs, fillers and conjunctions are drawn independently of it); that token's position varies
/// (optional openers, one- or two-word subjects) and so does its distance from the end (verb phrases and fillers of
/// varying length), so no positional rule finds it; the answer's form depends on the second pronoun (they → are, he → is,
/// I → am), so copying the first auxiliary's token itself is wrong whenever the pronouns disagree, and only its style
/// may be moved. Each sentence is sampled fresh, so there is nothing to memorise.</para>
/// </summary>
public sealed class ContractionsTask : TrainingTask
{
    private static readonly string[] Openers = ["Today", "Well", "Now", "Yes", "Sometimes"];
    // Subjects by agreement class: 0 = are (plural, you), 1 = is (third singular), 2 = am (I).
    private static readonly (string[] Words, int Person)[] Subjects =
    [
        (["We"], 0), (["They"], 0), (["You"], 0), (["He"], 1), (["She"], 1), (["It"], 1), (["I"], 2),
        (["My", " friends"], 0), (["The", " kids"], 0), (["My", " sister"], 1), (["The", " dog"], 1),
    ];
    private static readonly string[] Pronouns = [" they", " we", " you", " he", " she", " it", " I"];
    private static readonly int[] PronounPerson = [0, 0, 0, 1, 1, 1, 2];
    // Verb families: the auxiliaries by person (full, contracted) and the verb forms that follow.
    private static readonly (string[] Full, string[] Short, string[] Verbs)[] Families =
    [
        ([" are", " is", " am"], ["'re", "'s", "'m"], [" helping", " eating", " driving", " sleeping", " reading", " cooking", " working", " walking"]),
        ([" will", " will", " will"], ["'ll", "'ll", "'ll"], [" help", " eat", " drive", " sleep", " read", " cook", " work", " walk"]),
        ([" would", " would", " would"], ["'d", "'d", "'d"], [" help", " eat", " drive", " sleep", " read", " cook", " work", " walk"]),
    ];
    private static readonly string[] Fillers =
        [" our", " friend", " the", " dinner", " house", " car", " book", " together", " too", " soon", " uptown", " at", " home", " again", " today", " very", " quickly", " late", " with", " them"];
    private static readonly string[] Conjunctions = [" when", " while", " and", " because", " but", " so", " if"];

    /// <summary>The BOS/EOS token's text.</summary>
    public const string EndOfText = "<|endoftext|>";

    private readonly Dictionary<string, int> _ids;

    /// <summary>The task for a model of <paramref name="dVocab"/> ids whose BOS is <paramref name="bosTokenId"/> (the last id).</summary>
    /// <param name="dVocab">the model's vocabulary size: at least <see cref="VocabularySize"/></param>
    /// <param name="bosTokenId">the BOS id; must be dVocab − 1</param>
    /// <param name="sequenceLength">the model's n_ctx (sentences are shorter and padded)</param>
    public ContractionsTask(int dVocab, int bosTokenId, int sequenceLength)
    {
        var words = Vocabulary();
        if (dVocab < words.Count + 2)
            throw new InvalidInputException($"the contractions task has {words.Count + 2} tokens (words, <unk> and {EndOfText}); set d_vocab to at least {words.Count + 2} (it is {dVocab})");
        if (bosTokenId != dVocab - 1) throw new InvalidInputException($"the contractions task puts {EndOfText} at the last id ({dVocab - 1}), but the model's BOS is {bosTokenId}");
        if (sequenceLength < MaxSentenceLength) throw new InvalidInputException($"the contractions task needs n_ctx of at least {MaxSentenceLength} (it is {sequenceLength})");
        _ids = words.Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i, StringComparer.Ordinal);
        DVocab = dVocab;
        BosTokenId = bosTokenId;
        SequenceLength = MaxSentenceLength;
    }

    /// <summary>The longest sentence, BOS and answer included.</summary>
    public const int MaxSentenceLength = 16;

    /// <summary>Words, unknown token and BOS: the smallest d_vocab the task fits.</summary>
    public static int VocabularySize => Vocabulary().Count + 2;

    /// <inheritdoc/>
    public override string Name => "contractions";
    /// <inheritdoc/>
    public override int SequenceLength { get; }
    /// <summary>The vocabulary size.</summary>
    public int DVocab { get; }
    /// <summary>The BOS id.</summary>
    public int BosTokenId { get; }

    /// <summary>Every word token, in id order (ids 0..n-1; then &lt;unk&gt;, unused ids and BOS last).</summary>
    public static IReadOnlyList<string> Vocabulary() =>
        Openers.Append(",").Concat(Subjects.SelectMany(s => s.Words)).Concat(Pronouns)
            .Concat(Families.SelectMany(f => f.Full.Concat(f.Short).Concat(f.Verbs))).Concat(Fillers).Concat(Conjunctions)
            .Distinct(StringComparer.Ordinal).ToList();

    /// <inheritdoc/>
    public override TrainingBatch TrainBatch(long seed, long index, int size) => Batch(new DeterministicRandom(seed, stream: 2, index), size);

    /// <inheritdoc/>
    public override TrainingBatch EvalBatch(long seed, long index, int size) => Batch(new DeterministicRandom(seed, stream: 3, index), size);

    /// <inheritdoc/>
    public override string Describe() => $"contractions: sentences of at most {MaxSentenceLength} tokens over {VocabularySize} word tokens; loss on the final auxiliary's style";

    private TrainingBatch Batch(DeterministicRandom rng, int size)
    {
        var sequences = new List<int[]>();
        for (int b = 0; b < size; b++) sequences.Add(Sentence(ref rng).Select(w => w == EndOfText ? BosTokenId : _ids[w]).ToArray());
        var tokens = new TokenBatch(sequences, BosTokenId);
        var mask = new float[tokens.Batch * tokens.Pos];
        for (int b = 0; b < tokens.Batch; b++) mask[b * tokens.Pos + tokens.Lengths[b] - 1] = 1;
        return new TrainingBatch(tokens, mask);
    }

    /// <summary>One sentence as word strings, BOS first and the answer last.</summary>
    internal static List<string> Sentence(ref DeterministicRandom rng)
    {
        var s = new List<string> { EndOfText };
        if (rng.Next(3) == 0) { s.Add(Openers[rng.Next(Openers.Length)]); s.Add(","); }
        var (subject, person) = Subjects[rng.Next(Subjects.Length)];
        var family = Families[rng.Next(Families.Length)];
        bool contracted = rng.Next(2) == 0;
        s.AddRange(subject);
        s.Add(contracted ? family.Short[person] : family.Full[person]);
        s.Add(family.Verbs[rng.Next(family.Verbs.Length)]);
        int fillers = rng.Between(0, MaxSentenceLength - s.Count - 3);
        for (int i = 0; i < fillers; i++) s.Add(Fillers[rng.Next(Fillers.Length)]);
        s.Add(Conjunctions[rng.Next(Conjunctions.Length)]);
        int pronoun = rng.Next(Pronouns.Length);
        s.Add(Pronouns[pronoun]);
        s.Add(contracted ? family.Short[PronounPerson[pronoun]] : family.Full[PronounPerson[pronoun]]);
        return s;
    }

    /// <summary>Writes a word-level tokenizer.json (byte-level pre-tokenizer as GPT-2's, BPE without merges that looks
    /// whole words up, &lt;unk&gt; for anything else) and tokenizer_config.json ({EndOfText} as BOS and EOS).</summary>
    /// <param name="folder">the model folder</param>
    public override void WriteModelFiles(string folder)
    {
        var vocab = new JsonObject();
        var words = Vocabulary();
        for (int i = 0; i < words.Count; i++) vocab[ByteLevel(words[i])] = i;
        vocab["<unk>"] = words.Count;
        for (int i = words.Count + 1; i < DVocab - 1; i++) vocab[$"<unused_{i}>"] = i;
        vocab[EndOfText] = DVocab - 1;
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = DVocab - 1, ["content"] = EndOfText, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = true,
                ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        var config = new JsonObject { ["bos_token"] = EndOfText, ["eos_token"] = EndOfText, ["unk_token"] = "<unk>", ["model_max_length"] = SequenceLength, ["tokenizer_class"] = "GPT2Tokenizer" };
        WriteText(Path.Combine(folder, "tokenizer.json"), tokenizer.ToJsonString());
        WriteText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString());
    }

    private static void WriteText(string path, string text)
    {
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>GPT-2's byte-to-unicode mapping of a word (a space becomes 'Ġ').</summary>
    private static string ByteLevel(string word) => string.Concat(System.Text.Encoding.UTF8.GetBytes(word).Select(b => ByteChar(b)));

    private static char ByteChar(byte b) => b switch
    {
        >= (byte)'!' and <= (byte)'~' or >= 0xA1 and <= 0xAC or >= 0xAE => (char)b,
        _ => (char)(256 + ByteOffset(b)),
    };

    // The position of a byte among those GPT-2 maps above 255 (0..32, 127..160, 173), in order.
    private static int ByteOffset(byte b)
    {
        int n = 0;
        for (int x = 0; x < b; x++)
            if (!(x >= '!' && x <= '~' || x >= 0xA1 && x <= 0xAC || x >= 0xAE)) n++;
        return n;
    }
}
