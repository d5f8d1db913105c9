using System.Reflection;
using System.Text.Json.Nodes;
using SharpLens.Studies;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Studies;

[CollectionDefinition("study-cli", DisableParallelization = true)]
public sealed class StudyCliCollection;

[Collection("study-cli")]
public class StudyRunTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sharplens-study-" + Guid.NewGuid().ToString("N")[..8]);

    public StudyRunTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string StudyPath(string ext = "yaml")
    {
        string path = Path.Combine(_dir, "tiny." + ext);
        File.WriteAllText(path, ext == "yaml" ? StudyFileTests.TinyYaml : StudyFileTests.TinyJson);
        return path;
    }

    /// <summary>Runs the CLI's entry point in-process; returns the exit code and stdout.</summary>
    private static (int Code, string Out) Cli(params string[] args)
    {
        var entry = Assembly.Load("SharpLens.Cli").EntryPoint!;
        var stdout = Console.Out;
        var writer = new StringWriter();
        Console.SetOut(writer);
        try
        {
            int code = (int)entry.Invoke(null, [args])!;
            return (code, writer.ToString());
        }
        finally { Console.SetOut(stdout); }
    }

    [Fact]
    public void FullRunWritesResultsAndReportAndResumes()
    {
        string outDir = Path.Combine(_dir, "run");
        string model = Fixtures.Folder("tiny-b");
        var (code, _) = Cli("study", "run", StudyPath(), "--model", model, "--out", outDir);
        Assert.Equal(0, code);
        Assert.True(File.Exists(Path.Combine(outDir, "index.html")));
        var results = StudyResults.Load(Path.Combine(outDir, "results.json"));
        var study = StudyFile.ParseYaml(StudyFileTests.TinyYaml);
        foreach (var path in new[] { "model_check", "logit_lens", "layer_attribution", "head_attribution", "attention_patterns", "patching/resid_pre",
                     "patching/head_out", "patching/head_v", "patching/head_pattern", "neuron_patching", "attribution_patching" })
            Assert.True(results.Has("a", path), path);
        Assert.False(results.Has("b", "logit_lens"));
        var heads = results.GridAt("a", "head_attribution")!;
        Assert.Equal(3, heads.Rows.Count);
        Assert.Equal(4, heads.PerPrompt!.Dim(0));
        var neurons = results.GridAt("a", "neuron_patching")!;
        Assert.Equal(["1", "2"], neurons.Rows);
        var top = (JsonArray)results.Get("a", "neuron_patching")!["top"]!;
        Assert.Equal(2, top.Count);
        Assert.True(Math.Abs(top[0]!["effect"]!.GetValue<double>()) >= Math.Abs(top[1]!["effect"]!.GetValue<double>()));
        Assert.Equal(4, ((JsonArray)top[0]!["activations"]!).Count);
        // The model check agrees with the direct logit attribution's reconstruction.
        var mc = (JsonArray)results.Get("a", "model_check")!["clean_per_prompt"]!;
        var measured = (JsonArray)results.Get("a", "layer_attribution")!["measured_logit_diff"]!;
        for (int i = 0; i < 4; i++) Assert.Equal(mc[i]!.GetValue<double>(), measured[i]!.GetValue<double>(), 3);
        // Normalized patching: resid_pre at layer 0 over every position restores the clean run; check the differing position is 1.
        Assert.Equal(2, ((JsonArray)results.Root["comparisons"]!["figures"]!["head_attribution"]!["pairs"]!).Count + 1);
        string html = File.ReadAllText(Path.Combine(outDir, "index.html"));
        Assert.Contains("Findings", html);
        Assert.Contains("Does it run?", html);
        Assert.Contains("L1H0 is the top head", html);
        // Findings come from the numbers.
        var check = ClaimChecks.Check(study.Claims[0], results);
        Assert.Equal(Findings.RankHeads(heads)[0].Name == "L1H0" ? "held" : "not held", check.Status);

        // Resume: nothing recomputed; results unchanged.
        string before = File.ReadAllText(Path.Combine(outDir, "results.json"));
        var runner = new StudyRunner(Fixtures.Load("tiny-b", processed: true), study, new StudyRunOptions { OutDir = outDir, ModelName = model, WriteReport = false });
        var summary = runner.Run();
        Assert.Equal(0, summary.Ran);
        Assert.True(summary.Skipped > 10);
        Assert.Equal(JsonNode.Parse(before)!["groups"]!.ToJsonString(), StudyResults.Load(summary.ResultsPath).Groups.ToJsonString());

        // Force: everything again.
        var forced = new StudyRunner(Fixtures.Load("tiny-b", processed: true), study, new StudyRunOptions { OutDir = outDir, ModelName = model, Force = true, WriteReport = false }).Run();
        Assert.Equal(summary.Skipped, forced.Ran);
        Assert.Equal(0, forced.Skipped);

        // A half-finished run (an analysis missing) resumes with just that analysis.
        var partial = StudyResults.Load(summary.ResultsPath);
        ((JsonObject)partial.Groups["a"]!).Remove("neuron_patching");
        partial.Save(summary.ResultsPath);
        var resumed = new StudyRunner(Fixtures.Load("tiny-b", processed: true), study, new StudyRunOptions { OutDir = outDir, ModelName = model, WriteReport = false }).Run();
        Assert.Equal(2, resumed.Ran); // neuron_patching, then the comparisons (a group changed)

        // Another model in the same folder needs --force.
        var (otherCode, _) = Cli("study", "run", StudyPath(), "--model", Fixtures.Folder("tiny-a"), "--out", outDir);
        Assert.Equal(2, otherCode);
    }

    [Fact]
    public void VerifyAgainstOwnResultsIsZeroAndAgainstPerturbedFails()
    {
        string outDir = Path.Combine(_dir, "run");
        Assert.Equal(0, Cli("study", "run", StudyPath("json"), "--model", Fixtures.Folder("tiny-b"), "--out", outDir, "--method", "plain").Code);
        string refPath = Path.Combine(_dir, "ref.json");
        Assert.Equal(0, Cli("study", "reference", outDir, "--out", refPath).Code);

        var (code, output) = Cli("study", "verify", outDir, "--reference", refPath, "--json");
        var report = JsonNode.Parse(output)!;
        var checks = (JsonArray)report["checks"]!;
        var figures = checks.Where(f => f!["title"]!.ToString().StartsWith("Logit Difference") || f!["title"]!.ToString().StartsWith("Scatter")).ToList();
        Assert.True(figures.Count >= 13);
        Assert.All(figures, f => Assert.Equal(0.0, f!["deviation"]!.GetValue<double>(), 6));
        // The tiny study's claim may or may not hold on random weights; everything else matches itself exactly.
        Assert.All(checks.Where(c => !c!["source"]!.ToString().StartsWith("claim:")), c => Assert.False(c!["failed"]!.GetValue<bool>(), c!.ToJsonString()));
        bool claimHeld = checks.Single(c => c!["source"]!.ToString() == "claim:top_positive_head")!["status"]!.ToString() == "held";
        Assert.Equal(claimHeld ? 0 : 1, code);

        // Perturb one value of one figure by 0.3 and add a figure for a group the run lacks: named, exit code 1.
        var reference = JsonNode.Parse(File.ReadAllText(refPath))!.AsObject();
        var heads = ((JsonArray)reference["figures"]!).First(f => f!["title"]!.ToString() == "Logit Difference From Each Head" && f["group"]!.ToString() == "a")!;
        var z = heads["traces"]![0]!["z"]!;
        z[1]![2] = z[1]![2]!.GetValue<double>() + 0.3;
        ((JsonArray)reference["figures"]!).Add(new JsonObject
        {
            ["group"] = "c", ["title"] = "Logit Difference From Accumulate Residual Stream",
            ["traces"] = new JsonArray(new JsonObject { ["y"] = new JsonArray(1.0, 2.0) }),
        });
        File.WriteAllText(refPath, reference.ToJsonString());
        var (badCode, text) = Cli("study", "verify", outDir, "--reference", refPath);
        Assert.Equal(1, badCode);
        var line = text.Split('\n').First(l => l.Contains(" a ") && l.Contains("From Each Head"));
        Assert.StartsWith("FAIL", line);
        Assert.Contains("worst layer 1, head 2", line);
        Assert.Contains("|Δ| 0.3 >", line);
        Assert.Contains(text.Split('\n'), l => l.StartsWith("FAIL c ") && l.Contains("Accumulate") && l.Contains("missing"));
        // A looser tolerance given on the command line passes the value; the missing group still fails unless allowed.
        Assert.Equal(1, Cli("study", "verify", outDir, "--reference", refPath, "--atol", "0.5").Code);
        Assert.Equal(claimHeld ? 0 : 1, Cli("study", "verify", outDir, "--reference", refPath, "--atol", "0.5", "--allow-missing").Code);
    }

    [Fact]
    public void InvalidStudyFailsBeforeAnyRunWithOneLine()
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, StudyFileTests.TinyJson.Replace("\"neuron_layers\": [1, 2]", "\"neuron_layers\": [1, 7]"));
        string outDir = Path.Combine(_dir, "bad");
        var stderr = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        int code;
        try { code = Cli("study", "run", path, "--model", Fixtures.Folder("tiny-b"), "--out", outDir).Code; }
        finally { Console.SetError(stderr); }
        Assert.Equal(2, code);
        Assert.False(File.Exists(Path.Combine(outDir, "results.json")));
    }

    [Fact]
    public void MissingModelSaysHowToGetIt()
    {
        var e = Assert.ThrowsAny<SharpLensException>(() => SharpLens.Loading.ModelLoader.Load(Path.Combine(_dir, "no-such-model")));
        Assert.Contains("does not exist", e.Message);
    }
}
