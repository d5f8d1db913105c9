using System.Diagnostics;
using System.Text;
using SharpLens.Tests.Support;
using Xunit.Abstractions;

namespace SharpLens.Tests.Readme;

/// <summary>
/// Every shell command in README.md, run as written, in order, in one bash session, against a random GPT-2-shaped
/// checkpoint that the Hugging Face cache serves as <c>gpt2</c> (README.md, "How the tests run this README").
/// </summary>
[Collection(ReadmeCollection.Name)]
public class ReadmeShellTests(ITestOutputHelper output)
{
    /// <summary>The README's way of running the tool from a clone; the tests run the already-built tool instead.</summary>
    public const string RunFromSource = "dotnet run --project src/SharpLens.Cli -c Release --";

    private static readonly string[] OutputOptions = ["--out", "--plot", "--json"];

    [Fact]
    public void EveryReadmeShellCommandRunsAndWritesWhatItNames()
    {
        var commands = ReadmeDocument.Blocks(File.ReadAllText(ReadmeDocument.ReadmePath), "bash", "sh", "shell")
            .SelectMany(ReadmeDocument.Commands).ToList();
        var run = commands.Where(c => Runs(c.Text)).ToList();
        Assert.Contains(run, c => c.Text.Contains("study run"));
        Assert.True(run.Count >= 10, $"only {run.Count} README commands found to run");

        string work = CliRunner.TempDir();
        CopyDirectory(Path.Combine(ReadmeDocument.RepoRoot, "studies"), Path.Combine(work, "studies"));
        var script = new StringBuilder("""
            set -eE -o pipefail
            shopt -s expand_aliases
            sharplens_built() { dotnet "$SHARPLENS_CLI_DLL" "$@"; }
            trap 'echo "README.md line $README_LINE failed with exit code $?" >&2' ERR

            """);
        foreach (var c in run)
            script.Append($"README_LINE={c.Line}; echo \"::: README.md line {c.Line} ($SECONDS s)\"\n")
                  .Append(c.Text.Replace(RunFromSource, "sharplens_built")).Append('\n');
        File.WriteAllText(Path.Combine(work, "readme.sh"), script.ToString());

        var watch = Stopwatch.StartNew();
        var (exit, stdout, stderr) = RunBash(work, "readme.sh", TestTimeouts.ReadmeCommands);
        output.WriteLine($"{run.Count} README commands in {watch.Elapsed.TotalSeconds:F1} s (skipped: {string.Join("; ", commands.Where(c => !Runs(c.Text)).Select(c => c.Text))})");
        output.WriteLine(stdout);
        Assert.True(exit == 0, $"README commands failed (exit {exit}):\n{Tail(stderr)}\n--- stdout ---\n{Tail(stdout)}");
        Assert.DoesNotContain("   at ", stderr);

        foreach (var c in run)
            foreach (var path in NamedOutputs(c.Text))
                Assert.True(File.Exists(Path.Combine(work, path)) || Directory.Exists(Path.Combine(work, path)),
                    $"README.md line {c.Line} names {path} as output, but it was not written");
    }

    [Fact]
    public void SetupAndTestCommandsAreNotRunButEverythingElseIs()
    {
        Assert.False(Runs("dotnet test tests/SharpLens.Tests -c Release"));
        Assert.False(Runs("dotnet pack src/SharpLens.Cli -c Release -o nupkg"));
        Assert.True(Runs(RunFromSource + " study run studies/contractions.json --model gpt2"));
        Assert.True(Runs("sharplens predict --model gpt2 --prompt x"));
        Assert.True(Runs("cat > input.json <<'JSON'\n{}\nJSON"));
        Assert.Equal(["reports/dla", "dla.json"], NamedOutputs("sharplens attribute --model gpt2 --input in.json --plot reports/dla --json dla.json"));
        Assert.Empty(NamedOutputs("sharplens predict --model gpt2 --tokens 1,2 --json"));
        Assert.Empty(NamedOutputs("sharplens predict --model gpt2 --tokens 1,2 --json     # ids used as given"));
        Assert.Equal(["b.json"], NamedOutputs("sharplens compare a.json b.json --json b.json"));
    }

    /// <summary>Build, test and install commands (any <c>dotnet</c> command other than running the tool) are not run.</summary>
    private static bool Runs(string command) =>
        command.StartsWith(RunFromSource, StringComparison.Ordinal) || !command.TrimStart().StartsWith("dotnet ", StringComparison.Ordinal);

    /// <summary>Paths a sharplens command promises to write: the values of --out, --plot and --json (when it has one).</summary>
    private static IEnumerable<string> NamedOutputs(string command)
    {
        var words = ReadmeDocument.Words(command.Split('\n')[0].Contains("<<") ? "" : command);
        bool inSharplens = false;
        for (int i = 0; i < words.Count; i++)
        {
            if (words[i] is "&&" or "||" or ";" or "|") { inSharplens = false; continue; }
            if (words[i] == "sharplens" || (words[i] == "--" && i >= 1 && words[i - 1] == "Release")) inSharplens = true;
            if (inSharplens && OutputOptions.Contains(words[i]) && i + 1 < words.Count && !words[i + 1].StartsWith('-')
                && words[i + 1] is not ("&&" or "||" or ";" or "|"))
                yield return words[i + 1];
        }
    }

    private static (int Exit, string Stdout, string Stderr) RunBash(string work, string script, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("bash", [script])
        {
            WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        info.Environment["SHARPLENS_CLI_DLL"] = Path.Combine(AppContext.BaseDirectory, "SharpLens.Cli.dll");
        info.Environment["HF_HUB_CACHE"] = RandomGpt2Checkpoint.HubCache;
        info.Environment["HF_HUB_OFFLINE"] = "1";
        info.Environment.Remove("HF_HOME");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the README commands did not finish within {timeout}:\n{Tail(stdout.Result)}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "..." + text[^6000..];

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
