using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>What the commands do with and without a tokenizer: token ids always work; text without a tokenizer is one
/// line naming the files looked for and the --tokens fix, before any weight is read.</summary>
public class TokenizerCliTests
{
    private static readonly string Tiny = Fixtures.Folder("tiny-b");

    /// <summary>tiny-b's config.json with half of its model.safetensors: any command that reads the weights fails.</summary>
    private static string TinyWithTruncatedWeights()
    {
        string dir = CliRunner.TempDir();
        File.Copy(Path.Combine(Tiny, "config.json"), Path.Combine(dir, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(Tiny, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), bytes[..(bytes.Length / 2)]);
        return dir;
    }

    [Fact]
    public void TextWithoutATokenizerNamesWhatWasLookedForBeforeReadingTheWeights()
    {
        // The weights are truncated: the tokenizer error must come first, so nothing expensive ran.
        string dir = TinyWithTruncatedWeights();
        foreach (var args in new[]
        {
            new[] { "predict", "--model", dir, "--prompt", "hello" },
            ["predict", "--model", dir, "--tokens", "1,2", "--answer", " there"],
            ["generate", "--model", dir, "--prompt", "hello"],
        })
        {
            var r = CliRunner.Run(args);
            CliRunner.AssertOneLineError(r, "has no tokenizer.json or tokenizer.model");
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("needs a tokenizer", r.Stderr);
            Assert.Contains("--tokens 1,2,3", r.Stderr);
        }
    }

    [Fact]
    public void TokenIdsNeedNoTokenizer()
    {
        var r = CliRunner.Run("predict", "--model", Tiny, "--tokens", "1,2,3", "--top-k", "3", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    [Fact]
    public void AStudyWithMultiTokenAnswersStopsBeforeLoadingTheWeightsListingEveryPair()
    {
        // tiny-b's weights (truncated, so reading them would fail) with the SentencePiece fixture's tokenizer.json.
        string dir = TinyWithTruncatedWeights();
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(Fixtures.Folder(Path.Combine("tokenizers", "spm-llama")), f), Path.Combine(dir, f));
        string study = Path.Combine(dir, "study.json");
        File.WriteAllText(study, """
            {"name": "t", "groups": {"g": {"prompts": ["We are here", "They are here"],
              "answers": [["are", "xyzzyq"], ["are", "is"]]}}}
            """);
        string output = Path.Combine(dir, "out");
        var r = CliRunner.Run("study", "run", study, "--model", dir, "--out", output);
        // Under this small SentencePiece vocabulary "xyzzyq" and "is" are several tokens each; "are" is one.
        CliRunner.AssertOneLineError(r, "2 answer pairs are not single tokens under this model's tokenizer: group 'g', prompt 0 [");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("\"xyzzyq\" is ", r.Stderr);
        Assert.Contains("; group 'g', prompt 1 [", r.Stderr);
        Assert.Contains("pick answers that are one token each", r.Stderr);
        Assert.False(Directory.Exists(output));
    }
}
