using SharpLens.Analysis.Inputs;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Inputs;

public class AnalysisInputTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sharplens-inputs-" + Guid.NewGuid().ToString("N"));

    public AnalysisInputTests() => Directory.CreateDirectory(_dir);
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    private static readonly AnalysisInputOptions Gpt2 = new() { Tokenizer = new Gpt2Tokenizer(), VocabSize = 50257, ContextLength = 1024 };

    private string Write(string json, string name = "input.json")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    private static InvalidInputException Fails(Func<AnalysisInput> load, params string[] mustContain)
    {
        var ex = Assert.Throws<InvalidInputException>(() => load());
        Assert.DoesNotContain('\n', ex.Message);
        foreach (var s in mustContain) Assert.Contains(s, ex.Message);
        return ex;
    }

    private static readonly int[] WeRe = [50256, 1135, 821, 5742, 674, 1545, 618, 484];

    [Fact]
    public void TextPromptsAreTokenizedWithBosAndSwapPairsKeepsCleanAnswers()
    {
        var path = Write("""
        {
          "clean": ["We're helping our friend when they", "They're helping our friend when we"],
          "answers": [["'re", " are"], ["'re", " are"]]
        }
        """);
        var input = AnalysisInput.Load(path, Gpt2);
        Assert.Equal(WeRe, input.Clean.Sequence(0));
        Assert.True(input.CorruptedBySwappingPairs);
        Assert.Equal(input.Clean.Sequence(1), input.Corrupted.Sequence(0));
        Assert.Equal(input.Clean.Sequence(0), input.Corrupted.Sequence(1));
        Assert.Equal([(821, 389), (821, 389)], input.Answers);
        Assert.Equal(["<|endoftext|>", "We", "'re", " helping", " our", " friend", " when", " they"], input.CleanStrTokens[0]);
        Assert.Equal("We're helping our friend when they", input.CleanTexts[0]);
        Assert.Equal(input.CleanTexts[1], input.CorruptedTexts[0]);
        Assert.Equal(input.CleanStrTokens[0], input.CorruptedStrTokens[1]);

        // "swap_pairs" spelled out is the same.
        var explicitSwap = AnalysisInput.Load(Write("""
        {"clean": ["We're helping our friend when they", "They're helping our friend when we"],
         "corrupted": "swap_pairs", "answers": [[821, 389], [821, 389]]}
        """, "swap.json"), Gpt2);
        Assert.Equal(input.Corrupted.Ids, explicitSwap.Corrupted.Ids);
        Assert.Equal(input.Answers, explicitSwap.Answers);
    }

    [Fact]
    public void TokenIdInputsAreUsedExactlyForAFixtureModel()
    {
        var model = Fixtures.Load("tiny-a", processed: true);
        var set = Fixtures.Tokens("tiny-a");
        string Ids(int[][] rows) => "[" + string.Join(", ", rows.Select(r => "[" + string.Join(", ", r) + "]")) + "]";
        var path = Write($$"""{"clean": {{Ids(set.Clean)}}, "corrupted": {{Ids(set.Corrupted)}}, "answers": {{Ids(set.Answers)}}}""");
        var input = AnalysisInput.Load(path, model);
        Assert.Equal(set.CleanBatch.Ids, input.Clean.Ids);
        Assert.Equal(set.CorruptedBatch.Ids, input.Corrupted.Ids);
        Assert.Equal(set.AnswerPairs, input.Answers);
        Assert.False(input.CorruptedBySwappingPairs);
        Assert.Equal(set.Clean[0].Select(i => i.ToString()), input.CleanStrTokens[0]);
        Assert.Equal(model.Config.BosTokenId, input.Clean.PadId);
    }

    [Fact]
    public void RaggedPromptsArePaddedAndLengthsMayDifferWhenAlignmentIsNotRequired()
    {
        var json = """{"clean": [[1, 2, 3], [1, 2]], "corrupted": [[1, 2], [1, 2]], "answers": [[4, 5], [6, 7]]}""";
        var options = new AnalysisInputOptions { VocabSize = 10, ContextLength = 8, PadId = 0, RequireAlignedLengths = false };
        var input = AnalysisInput.Parse(json, options);
        Assert.Equal([3, 2], input.Clean.Lengths);
        Assert.Equal([1, 2, 3, 1, 2, 0], input.Clean.Ids);
        Fails(() => AnalysisInput.Parse(json, options with { RequireAlignedLengths = true }), "prompt 0", "3 tokens", "2");
    }

    [Fact]
    public void MissingFile() => Fails(() => AnalysisInput.Load(Path.Combine(_dir, "nope.json"), Gpt2), "nope.json", "does not exist");

    [Fact]
    public void MalformedJsonNamesTheLine()
    {
        var path = Write("{\n  \"clean\": [[1, 2]],\n  \"answers\": [[1, 2]]]\n}");
        Fails(() => AnalysisInput.Load(path, Gpt2), "input.json", "malformed JSON", "line 3");
    }

    [Fact]
    public void EmptyLists()
    {
        Fails(() => AnalysisInput.Parse("""{"clean": [], "answers": [[1, 2]]}""", Gpt2), "\"clean\"", "empty");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2], [2, 1]], "answers": []}""", Gpt2), "\"answers\"", "empty");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2], []], "answers": [[1, 2], [1, 2]]}""", Gpt2), "clean[1]", "empty");
        Fails(() => AnalysisInput.Parse("""{"answers": [[1, 2]]}""", Gpt2), "\"clean\"", "missing");
    }

    [Fact]
    public void MultiTokenAnswerNamesTheAnswerAndItsTokens()
    {
        var ex = Fails(() => AnalysisInput.Parse("""{"clean": ["We're here", "They're here"], "answers": [["'re", " are"], [" 're", " are"]]}""", Gpt2),
            "answers[1][0]", "\" 're\"", "2 tokens");
        Assert.Contains("\" '\"", ex.Message);
    }

    [Fact]
    public void AnswerCountMustMatchPrompts() =>
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2], [2, 1]], "answers": [[3, 4]]}""", Gpt2), "1 answer pairs for 2 prompts");

    [Fact]
    public void CleanCorruptedCountMismatch() =>
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2], [2, 1]], "corrupted": [[1, 2]], "answers": [[3, 4], [3, 4]]}""", Gpt2),
            "2 clean prompts but 1 corrupted");

    [Fact]
    public void CleanCorruptedLengthMismatch()
    {
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2], [2, 1]], "corrupted": [[1, 2], [2, 1, 3]], "answers": [[3, 4], [3, 4]]}""", Gpt2),
            "prompt 1", "clean has 2 tokens but corrupted has 3");
        // swap_pairs with prompts of different lengths
        Fails(() => AnalysisInput.Parse("""{"clean": ["We're helping our friend when they", "They're here"], "answers": [["'re", " are"], ["'re", " are"]]}""", Gpt2),
            "prompt 0", "swapped with prompt 1");
    }

    [Fact]
    public void OutOfVocabularyIds()
    {
        var small = new AnalysisInputOptions { VocabSize = 96, ContextLength = 16 };
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 96]], "corrupted": [[1, 2]], "answers": [[3, 4]]}""", small), "clean[0][1]", "96", "0..95");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2]], "corrupted": [[1, 2]], "answers": [[3, -1]]}""", small), "answers[0][1]", "-1");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2.5]], "corrupted": [[1, 2]], "answers": [[3, 4]]}""", small), "clean[0][1]", "integer");
    }

    [Fact]
    public void PromptLongerThanContext()
    {
        var small = new AnalysisInputOptions { VocabSize = 96, ContextLength = 4 };
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2, 3, 4, 5]], "corrupted": [[1, 2, 3, 4, 5]], "answers": [[3, 4]]}""", small),
            "clean[0]", "5 tokens", "context of 4");
    }

    [Fact]
    public void OtherShapeErrors()
    {
        var tiny = AnalysisInputOptions.For(Fixtures.Load("tiny-a", processed: true));
        Fails(() => AnalysisInput.Parse("""{"clean": ["hello", "there"], "answers": [[1, 2], [1, 2]]}""", tiny), "clean[0] is text but ", "tiny-a has no tokenizer.json or tokenizer.model", "give prompts as token-id lists");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2], [2, 1], [3, 1]], "answers": [[3, 4], [3, 4], [3, 4]]}""", tiny), "even number", "3");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2]], "corrupted": "shuffle", "answers": [[3, 4]]}""", tiny), "\"shuffle\"");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2]], "corrupted": [[1, 2]], "answers": [[3, 4, 5]]}""", tiny), "answers[0]", "pair");
        Fails(() => AnalysisInput.Parse("""{"clean": [[1, 2]], "corrupted": [[1, 2]], "answers": [[3, 3]]}""", tiny), "answers[0]", "same token");
        Fails(() => AnalysisInput.Parse("""[1, 2]""", tiny), "top level");
    }
}
