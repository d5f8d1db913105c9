using System.Text.Json.Nodes;
using SharpLens.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary><c>sharplens ov</c> end to end on tiny-b: the JSON carries the reference numbers, figures are written, and
/// bad input is a one-line error with exit code 2 and no output file.</summary>
public class OvCommandTests
{
    private static readonly string Tiny = Fixtures.Folder("tiny-b");

    [Fact]
    public void OvWritesJsonWithReferenceCopyingScoreAndCompositionAndFigures()
    {
        string dir = CliRunner.TempDir(), json = Path.Combine(dir, "ov.json"), plots = Path.Combine(dir, "plots");
        var r = CliRunner.Run("ov", "--model", Tiny, "--head", "1.2", "--token-ids", "3,5", "--top-k", "4", "--json", json, "--plot", plots);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("Copying score", r.Stdout);
        var result = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("L1H2", result["head"]!.GetValue<string>());
        using var views = SafetensorsFile.Open(Path.Combine(Tiny, "weights_views.safetensors"));
        float expected = views.ReadTensor("full_ov.copying")[1, 2];
        Assert.Equal(expected, result["copying"]!["score"]!.GetValue<double>(), 4);
        var readouts = result["readouts"]!.AsArray();
        Assert.Equal([3, 5], readouts.Select(x => x!["source_id"]!.GetValue<int>()));
        Assert.All(readouts, x => Assert.Equal(4, x!["top"]!.AsArray().Count));
        // Q-composition into 1.2 from the three layer-0 heads, V-composition out of it into the three layer-2 heads.
        var q = result["composition"]!["Q"]!;
        Assert.Equal(3, q["senders"]!.AsArray().Count);
        var sender = q["senders"]![0]!;
        var (l, h) = HeadId.Parse(sender["head"]!.GetValue<string>());
        Assert.Equal(views.ReadTensor("comp.Q")[l, h, 1, 2], sender["score"]!.GetValue<double>(), 4);
        Assert.Equal(3, result["composition"]!["V"]!["receivers"]!.AsArray().Count);
        Assert.True(File.Exists(Path.Combine(plots, "ov-L1H2-composition.html")));
        Assert.True(File.Exists(Path.Combine(plots, "ov-L1H2-readout-3.svg")));
    }

    [Theory]
    [InlineData("3.0", "does not exist")]
    [InlineData("1.7", "head L1H7 does not exist")]
    [InlineData("seven", "is not a head")]
    public void BadHeadIsOneLineErrorAndWritesNothing(string head, string needle)
    {
        string json = Path.Combine(CliRunner.TempDir(), "ov.json");
        var r = CliRunner.Run("ov", "--model", Tiny, "--head", head, "--json", json);
        CliRunner.AssertOneLineError(r, needle);
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(json));
    }

    [Fact]
    public void TokenTextOnANonGpt2VocabularyAndBadOptionsAreOneLineErrors()
    {
        CliRunner.AssertOneLineError(CliRunner.Run("ov", "--model", Tiny, "--head", "1.0", "--tokens", "'re"), "--token-ids");
        CliRunner.AssertOneLineError(CliRunner.Run("ov", "--model", Tiny, "--head", "1.0", "--token-ids", "500"), "outside the vocabulary");
        CliRunner.AssertOneLineError(CliRunner.Run("ov", "--model", Tiny, "--head", "1.0", "--pronouns", " they"), "--answers");
        CliRunner.AssertOneLineError(CliRunner.Run("ov", "--model", Tiny, "--head", "1.0", "--pronouns", " they", "--answers", "'re, are, is"), "exactly two");
    }
}
