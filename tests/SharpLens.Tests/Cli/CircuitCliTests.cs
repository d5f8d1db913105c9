using System.Text.Json.Nodes;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary><c>sharplens circuit</c>, <c>circuit evaluate</c> and <c>path-patch</c> as a user runs them.</summary>
public class CircuitCliTests
{
    private static readonly string Tiny = Fixtures.Folder("tiny-b");

    private static string InputFile(string dir)
    {
        var t = Fixtures.Tokens("tiny-b");
        string path = Path.Combine(dir, "input.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(new { clean = t.Clean, corrupted = t.Corrupted, answers = t.Answers }));
        return path;
    }

    // Prompts whose clean − corrupted gap is clear, so faithfulness is a number (see CircuitTestModels.CopyingTokens).
    private static string CopyingInputFile(string dir)
    {
        var (clean, corrupted, answers) = Circuits.CircuitTestModels.CopyingTokens();
        string path = Path.Combine(dir, "copying.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(new { clean, corrupted, answers }));
        return path;
    }

    [Fact]
    public void CircuitWritesEapIgJsonAndReportThenEvaluateReproducesFaithfulness()
    {
        string dir = CliRunner.TempDir(), input = CopyingInputFile(dir), json = Path.Combine(dir, "circuit.json"), report = Path.Combine(dir, "report");
        var r = CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--method", "eap-ig", "--edges", "20", "--curve", "5,20,100",
            "--json", json, "--plot", report);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var doc = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(3, doc["cfg"]!["n_layers"]!.GetValue<int>());
        Assert.Equal(172, doc["edges"]!.AsObject().Count);          // tiny-b: 3 layers x 3 heads
        int inGraph = doc["edges"]!.AsObject().Count(p => p.Value!["in_graph"]!.GetValue<bool>());
        Assert.InRange(inGraph, 1, 20);
        Assert.Equal(inGraph, doc["sharplens"]!["edges"]!.GetValue<int>());
        // Fewer edges than asked only because pruning removed some, and then the user is told so.
        if (inGraph < 20) Assert.Contains($"{20 - inGraph} of the 20 selected edges lie on no path", r.Stderr);
        else Assert.DoesNotContain("were pruned", r.Stderr);
        Assert.Equal(3, doc["sharplens"]!["curve"]!.AsArray().Count);
        var svg = Directory.GetFiles(Path.Combine(report, "figures"), "*.svg").Single(f => f.Contains("circuit-of"));
        Assert.Contains("<title>", File.ReadAllText(svg));
        Assert.Contains("data-edge=", File.ReadAllText(Path.Combine(report, "index.html")));

        var e = CliRunner.Run("circuit", "evaluate", json, "--model", Tiny, "--input", input);
        Assert.True(e.ExitCode == 0, e.Stderr);
        float expected = doc["sharplens"]!["faithfulness"]!.GetValue<float>();
        Assert.Contains($"faithfulness {expected:0.###}", e.Stdout.Replace(',', '.'));
    }

    [Fact]
    public void AcdcWritesItsCircuitWithPerEdgeEffectsAndEvaluateReproducesItsFaithfulness()
    {
        string dir = CliRunner.TempDir(), input = CopyingInputFile(dir), json = Path.Combine(dir, "acdc.json");
        var r = CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--method", "acdc", "--threshold", "0.05", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var doc = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("ACDC", doc["sharplens"]!["method"]!.ToString());
        Assert.Equal(0.05, doc["sharplens"]!["threshold"]!.GetValue<double>(), 6);
        var edges = doc["edges"]!.AsObject();
        int inGraph = edges.Count(p => p.Value!["in_graph"]!.GetValue<bool>());
        Assert.InRange(inGraph, 1, 171);
        Assert.Contains(edges, p => p.Value!["score"]!.GetValue<double>() > 0);
        var e = CliRunner.Run("circuit", "evaluate", json, "--model", Tiny, "--input", input);
        Assert.True(e.ExitCode == 0, e.Stderr);
        Assert.Contains($"faithfulness {doc["sharplens"]!["faithfulness"]!.GetValue<float>():0.###}", e.Stdout.Replace(',', '.'));
    }

    [Fact]
    public void DefaultsFitAModelSmallerThanThemAndTheCurveRunsToTheFullGraph()
    {
        // tiny-b has 172 edges, fewer than --edges' default of 200: the default becomes the whole graph, not an error.
        string dir = CliRunner.TempDir(), input = CopyingInputFile(dir), json = Path.Combine(dir, "eap.json");
        var r = CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--method", "eap", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var summary = JsonNode.Parse(File.ReadAllText(json))!["sharplens"]!;
        Assert.InRange(summary["edges"]!.GetValue<int>(), 1, 172);
        var curve = summary["curve"]!.AsArray();
        Assert.Equal(172, curve[^1]!["edges"]!.GetValue<int>());
        Assert.Equal(1.0, curve[^1]!["faithfulness"]!.GetValue<double>(), 4);   // tiny-b's gap is clear: the full graph is the clean run
        Assert.True(summary["gap"]!["clear"]!.GetValue<bool>());

        // tiny-b's fixture prompts have no clear gap: the same run reports faithfulness as undecided, with a note, and no number.
        string noisy = Path.Combine(dir, "noisy.json");
        r = CliRunner.Run("circuit", "--model", Tiny, "--input", InputFile(dir), "--method", "eap", "--json", noisy);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("faithfulness undecided", r.Stderr);
        Assert.Contains("includes 0", r.Stderr);
        var noisySummary = JsonNode.Parse(File.ReadAllText(noisy))!["sharplens"]!;
        Assert.Equal("undecided", noisySummary["status"]!.GetValue<string>());
        Assert.Null(noisySummary["faithfulness"]);
        // Every point says what it is; a point pruned to nothing is "empty" with no number.
        Assert.All(curve, p => Assert.True(p!["status"]!.GetValue<string>() == "empty" ? p["faithfulness"] is null && p["edges"]!.GetValue<int>() == 0
            : p["status"]!.GetValue<string>() == "measured"));
    }

    [Fact]
    public void BadCircuitInputsAreOneLineErrorsWithNothingWritten()
    {
        string dir = CliRunner.TempDir(), input = InputFile(dir), json = Path.Combine(dir, "out.json");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--edges", "0", "--json", json), "--edges must be between 1 and 172");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--method", "acdc", "--json", json), "--method acdc needs --threshold");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--method", "acdc", "--threshold", "-1", "--json", json), "--threshold must be a finite number >= 0");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "--model", Tiny, "--input", input, "--method", "acdcx", "--json", json), "unknown --method 'acdcx'");
        Assert.False(File.Exists(json));

        string other = Path.Combine(dir, "other.json");
        File.WriteAllText(other, "{\"cfg\":{\"n_layers\":12,\"n_heads\":12,\"d_model\":768},\"nodes\":{},\"edges\":{}}");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "evaluate", other, "--model", Tiny, "--input", input), "use the model the circuit was found on");
        string empty = Path.Combine(dir, "empty.json");
        File.WriteAllText(empty, "{\"cfg\":{\"n_layers\":3,\"n_heads\":3,\"d_model\":48},\"nodes\":{},\"edges\":{\"m2->logits\":{\"score\":1,\"in_graph\":false}}}");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "evaluate", empty, "--model", Tiny, "--input", input), "empty circuit");
        string badEdge = Path.Combine(dir, "bad.json");
        File.WriteAllText(badEdge, "{\"cfg\":{\"n_layers\":3,\"n_heads\":3,\"d_model\":48},\"nodes\":{},\"edges\":{\"a1.h5->logits\":{\"score\":1,\"in_graph\":true}}}");
        CliRunner.AssertOneLineError(CliRunner.Run("circuit", "evaluate", badEdge, "--model", Tiny, "--input", input), "head L1H5 does not exist");
    }

    [Fact]
    public void PathPatchSweepsSendersAndRefusesUnknownReceivers()
    {
        string dir = CliRunner.TempDir(), input = InputFile(dir), json = Path.Combine(dir, "pp.json");
        var r = CliRunner.Run("path-patch", "--model", Tiny, "--input", input, "--receivers", "a2.h1<v>", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var doc = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(3, doc["grid"]!["rows"]!.AsArray().Count);
        Assert.Contains("strongest sender into a2.h1<v>", r.Stdout);
        r = CliRunner.Run("path-patch", "--model", Tiny, "--input", input, "--senders", "a0.h1,m0", "--receivers", "logits", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(json))!["normalized"]);
        string json2 = Path.Combine(dir, "pp2.json");
        CliRunner.AssertOneLineError(CliRunner.Run("path-patch", "--model", Tiny, "--input", input, "--receivers", "a7.h0<v>", "--json", json2), "head L7H0 does not exist");
        Assert.False(File.Exists(json2));
    }
}
