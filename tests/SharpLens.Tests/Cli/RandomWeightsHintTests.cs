using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>A first user without GPT-2 weights learns that the main command can run on random weights.</summary>
public class RandomWeightsHintTests
{
    private static readonly string Study = Path.Combine(Readme.ReadmeDocument.RepoRoot, "studies", "contractions.json");

    [Fact]
    public void StudyRunWithoutWeightsOfflineSuggestsRandomWeights()
    {
        var r = CliRunner.Run("study", "run", Study, "--model", "gpt2", "--out", Path.Combine(CliRunner.TempDir(), "out"));
        CliRunner.AssertOneLineError(r, "--random-weights");
        Assert.Contains("gpt2", r.Stderr);
    }

    [Fact]
    public void StudyRunHelpListsRandomWeights()
    {
        var r = CliRunner.Run("study", "run", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("--random-weights", r.Stdout);
    }
}
