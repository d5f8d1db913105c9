using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>What the commands do with and without a tokenizer: token ids always work; text without a tokenizer is one
/// line naming the files looked for and the --tokens fix, before any weight is read.</summary>
public class TokenizerCliTests
{
    private static readonly string Tiny = Fixtures.Folder("tiny-b");

    [Fact]
    public void TextWithoutATokenizerNamesWhatWasLookedForBeforeReadingTheWeights()
    {
        // The weights are truncated: the tokenizer error must come first, so nothing expensive ran.
        string dir = CliRunner.TempDir();
        File.Copy(Path.Combine(Tiny, "config.json"), Path.Combine(dir, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(Tiny, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), bytes[..(bytes.Length / 2)]);
        foreach (var args in new[]
        {
            new[] { "predict", "--model", dir, "--prompt", "hello" },
            ["predict", "--model", dir, "--tokens", "1,2", "--answer", " there"],
            ["generate", "--model", dir, "--prompt", "hello"],
        })
        {
            var r = CliRunner.Run(args);
            CliRunner.AssertOneLineError(r, "has no tokenizer.json, tokenizer.model or vocab.json + merges.txt");
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
}
