using System.Text.Json.Nodes;
using SharpLens.Reports;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>
/// What a new user meets first: mistakes caught before any work (the model given here does not exist, so an error
/// about it would mean the output path was checked too late), outputs that read well when piped, and folders that
/// two runs cannot write at once.
/// </summary>
public class FirstContactTests
{
    private static readonly string Tiny = Fixtures.Folder("tiny-b");
    private const string NoModel = "/no/such/model-folder";

    private static string ResultJson(string dir)
    {
        var grid = SharpLens.Analysis.Grid.FromPerPrompt(new SharpLens.Tensors.Tensor([1f, 2f, 3f, 4f], 2, 1, 2), ["0"], ["a", "b"]);
        string path = Path.Combine(dir, "result.json");
        File.WriteAllText(path, new JsonObject { ["model"] = "m", ["heads"] = grid.ToJson() }.ToJsonString());
        return path;
    }

    public static TheoryData<string[], string> BadOutputs()
    {
        string dir = CliRunner.TempDir();
        File.WriteAllText(Path.Combine(dir, "in.json"), "{}");
        string input = Path.Combine(dir, "in.json");
        return new()
        {
            { ["activations", "-m", NoModel, "--tokens-file", input, "--hooks", "x", "--out", "/etc/passwd/x.safetensors"], "/etc/passwd is a file, not a folder" },
            { ["activations", "-m", NoModel, "--tokens-file", input, "--hooks", "x", "--out", "/proc/foo.safetensors"], "cannot create files in /proc" },
            { ["attribute", "-m", NoModel, "-i", input, "--json", dir], "is a folder, not a file" },
            { ["patch", "-m", NoModel, "-i", input, "--json", Path.Combine(dir, "o.json"), "--plot", input], "--plot " + input + " is a file, not a folder" },
            { ["view", "attention", "-m", NoModel, "--tokens", "1", "--heads", "0.0", "--out", "/etc/hostname/v"], "/etc/hostname is a file" },
            { ["study", "run", "no-such-study.json", "-m", NoModel, "--out", input], "is a file, not a folder" },
            { ["compare", input, input, "--key", "heads", "--json", dir], "--json " + dir + " is a folder" },
        };
    }

    [Theory]
    [MemberData(nameof(BadOutputs))]
    public void OutputPathIsCheckedBeforeAnyModelIsLoaded(string[] args, string needle)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, needle);
        Assert.DoesNotContain(NoModel, r.Stderr);
    }

    [Fact]
    public void PlotRefusesAnAnalysisInput()
    {
        string dir = CliRunner.TempDir(), input = Path.Combine(dir, "input.json"), output = Path.Combine(dir, "report");
        File.WriteAllText(input, """{"clean": [[119, 5, 6]], "corrupted": [[119, 5, 7]], "answers": [[30, 31]]}""");
        var r = CliRunner.Run("plot", input, "--out", output);
        CliRunner.AssertOneLineError(r, "is an analysis input");
        Assert.Equal(2, r.ExitCode);
        Assert.False(Directory.Exists(output)); // nothing half-written, not even an empty folder

        Assert.Equal(0, CliRunner.Run("plot", ResultJson(dir), "--out", output).ExitCode);
        Assert.True(File.Exists(Path.Combine(output, "index.html")));
    }

    [Fact]
    public void GenerateSaysWhenItStopsAtTheContextLength()
    {
        // tiny-b has a context of 24 tokens: a 20-token prompt leaves room for 4 of the 10 asked for.
        string ids = string.Join(",", Enumerable.Range(0, 20).Select(i => 100 + i % 19));
        var r = CliRunner.Run("generate", "-m", Tiny, "--tokens", ids, "-n", "10", "-t", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("stopped after 4 of 10 new tokens at the model's context length of 24 tokens", r.Stderr);

        r = CliRunner.Run("generate", "-m", Tiny, "--tokens", "119,5,6", "-n", "3", "-t", "0");
        Assert.DoesNotContain("context length", r.Stderr);
    }

    [Fact]
    public void SecondRunIntoAFolderInUseIsRefusedAndStaleTemporaryFilesAreCleaned()
    {
        string dir = CliRunner.TempDir(), output = Path.Combine(dir, "report"), result = ResultJson(dir);
        Directory.CreateDirectory(Path.Combine(output, "figures"));
        string stale = Path.Combine(output, "figures", "heads.1a2b3c4d.tmp");
        File.WriteAllText(stale, "half a figure");
        using (OutputFolderLock.Acquire(output))
        {
            foreach (var args in new[] { new[] { "plot", result, "--out", output }, ["study", "run", "no-such-study.json", "-m", NoModel, "--out", output] })
            {
                var busy = CliRunner.Run(args);
                Assert.Equal(2, busy.ExitCode);
                CliRunner.AssertOneLineError(busy, "is in use by another sharplens run");
            }
        }
        Assert.False(File.Exists(stale)); // the holder cleaned it when it took the folder

        File.WriteAllText(stale, "half a figure");
        var r = CliRunner.Run("plot", result, "--out", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.False(File.Exists(stale));
        Assert.False(File.Exists(Path.Combine(output, OutputFolderLock.FileName)));
    }

    [Fact]
    public void PipedTextDoesNotWrapAndJsonKeepsTokensReadable()
    {
        string ids = string.Join(",", Enumerable.Range(0, 18).Select(i => 100 + i));
        var r = CliRunner.Run("predict", "-m", Tiny, "--tokens", ids);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string line = r.Stdout.Split('\n').Single(l => l.StartsWith("Tokenized prompt:", StringComparison.Ordinal));
        Assert.True(line.Length > 80, line);
        Assert.EndsWith("|<117>|", line.TrimEnd());

        r = CliRunner.Run("predict", "-m", Tiny, "--tokens", ids, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.DoesNotContain("\\u003C", r.Stdout);
        Assert.Contains("\"<100>\"", r.Stdout);
    }
}
