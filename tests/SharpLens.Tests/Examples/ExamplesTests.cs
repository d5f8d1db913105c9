using System.Diagnostics;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Examples;

/// <summary>
/// Every file-based app in examples/ runs exactly as its header and the README say (<c>dotnet run examples/NAME.cs --
/// MODEL OUT</c>, no <c>-c Release</c>) on a random GPT-2-shaped checkpoint, prints its notebook-style cells and writes
/// its report, so an example can never rot; and the library it runs is an optimized build (its own
/// <c>#:property Configuration=Release</c> and examples/Directory.Build.props, which passes the configuration to the
/// projects it references), since a Debug SharpLens runs the examples several times slower. The apps run one after
/// another in one test: the library projects they reference are built once and reused by the rest.
/// </summary>
[Collection(SerialTests.Name)]
public class ExamplesTests
{
    static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpLens.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root (SharpLens.sln) not found above the test binaries");
        }
    }

    /// <summary>What each example must print (one line per notebook cell it reproduces).</summary>
    static readonly Dictionary<string, string[]> Expected = new()
    {
        ["experiment1.cs"] = ["[1] Tokenized prompt: |<|endoftext|>| |We|", "[2] Logit difference per prompt", "[3] Heads with the largest direct effect", "[4] L1H3:", "[5] Clean logit difference", "[6] Neuron patching over layers 1", "report: "],
        ["circuit.cs"] = ["[1] ", "edges scored with EAP-IG", "[2] clean", "edges after pruning: faithfulness", "[3] circuit of", "report: "],
        ["dla-walkthrough.cs"] = ["[1] logit(|'re|)", "[3] 6 components: embed, pos_embed, 0_attn_out", "[5] sum of components", "[6] strongest head", "report: "],
        ["patching-from-scratch.cs"] = ["[1] clean logit difference", "[2] normalized score", "[3] ActivationPatcher agrees", "report: "],
        ["neuron-index.cs"] = ["[1] indexed ", "tokens, layers 0,1 into ", "[2] L1N", "    #1 ", "    promotes |", "[3] on | they|: L", "    on the prompt: L", "neuron pages in ", "report: "],
    };

    [Fact]
    public async Task Every_example_runs_on_a_random_checkpoint()
    {
        string root = RepoRoot, examples = Path.Combine(root, "examples");
        var files = Directory.GetFiles(examples, "*.cs").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(Expected.Keys.Order(), files!);   // a new example needs its expected output here
        string model = RandomCheckpoint.Shared;
        string outRoot = CliRunner.TempDir();
        foreach (var file in files)
        {
            string outDir = Path.Combine(outRoot, Path.GetFileNameWithoutExtension(file!));
            string source = File.ReadAllText(Path.Combine(examples, file!));
            Assert.Contains("#:property Configuration=Release", source);
            // The header's usage line is the command run here.
            Assert.Matches($@"//\s+dotnet run examples/{System.Text.RegularExpressions.Regex.Escape(file!)} \[?-- MODEL OUT", source);
            var info = new ProcessStartInfo("dotnet") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "run", $"examples/{file}", "--", model, outDir }) info.ArgumentList.Add(a);
            info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            info.Environment["DOTNET_NOLOGO"] = "1";
            info.Environment["HF_HUB_OFFLINE"] = "1";
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TestTimeouts.Example);
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { process.Kill(true); Assert.Fail($"{file} did not finish in 5 minutes"); }
            string output = await stdout, errors = await stderr;
            Assert.True(process.ExitCode == 0, $"{file} exited {process.ExitCode}:\n{output}\n{errors}");
            Assert.DoesNotContain(BuildInfo.UnoptimizedWarning, errors);   // the documented command runs an optimized SharpLens
            foreach (var line in Expected[file!]) Assert.Contains(line, output);
            Assert.True(File.Exists(Path.Combine(outDir, "index.html")), $"{file} wrote no report into {outDir}");
            if (file == "circuit.cs") Assert.True(File.Exists(Path.Combine(outDir, "circuit.json")), "circuit.cs wrote no circuit.json");
            if (file == "neuron-index.cs")
                Assert.True(Directory.GetFiles(Path.Combine(outDir, "neurons"), "L*N*.html").Length > 0, "neuron-index.cs wrote no neuron page");
        }
        Directory.Delete(outRoot, recursive: true);
    }
}
