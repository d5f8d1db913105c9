using System.Reflection;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Studies;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Studies;

/// <summary>The study's circuits section, run small: two groups of the tiny study on the tiny-b fixture.</summary>
[Collection("study-cli")]
public class StudyCircuitsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sharplens-circuits-" + Guid.NewGuid().ToString("N")[..8]);

    public StudyCircuitsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private const string Block = """
      "circuits": { "groups": ["a", "b"], "edges": 20, "curve": [5, 10, 40], "resamples": 200, "steps": 3,
                    "receivers": ["a2.h1<v>", "a2.h1<q>"], "ov_head": "2.1", "ov_tokens": [30, 31],
                    "bigram_sources": [5, 9], "bigram_answers": [30, 31] },
    """;

    // Group a's prompts end in their answer (clean) or the other answer (the swapped partner): tiny-b's tied embedding
    // makes that a clear effect (CircuitTestModels.CopyingTokens), over four swapped pairs. Group b keeps its single
    // swapped pair: one unit, so its clean − corrupted gap can never be clear and its faithfulness is undecided.
    private const string TinyPrompts = "[[119, 5, 6, 7, 8], [119, 9, 10, 11, 12], [119, 13, 14, 15, 16], [119, 17, 18, 19, 20]]";
    private const string CopyingPrompts = "[[119, 5, 6, 7, 30], [119, 9, 10, 11, 31], [119, 13, 14, 15, 30], [119, 17, 18, 19, 31], " +
                                          "[119, 50, 51, 52, 30], [119, 53, 54, 55, 31], [119, 56, 57, 58, 30], [119, 59, 60, 61, 31]]";
    private const string TinyAnswers = "\"answers\": [[30, 31], [31, 30], [30, 31], [31, 30]]";
    private const string CopyingAnswers = "\"answers\": [[30, 31], [31, 30], [30, 31], [31, 30], [30, 31], [31, 30], [30, 31], [31, 30]]";

    // The tiny study with a circuits block; the groups run only the model check besides it.
    private string StudyPath(string block = Block, string name = "tiny.json")
    {
        string text = StudyFileTests.TinyJson.Replace("\"groups\": {", block + "\n  \"groups\": {")
            .Replace(TinyPrompts, CopyingPrompts).Replace(TinyAnswers, CopyingAnswers);
        text = text.Replace("\"analyses\": [\"model_check\", \"logit_lens\", \"layer_attribution\", \"head_attribution\", \"attention_patterns\", \"patching\", \"neuron_patching\", \"attribution_patching\", \"comparisons\"]",
            "\"analyses\": [\"model_check\"]").Replace("\"analyses\": [\"model_check\", \"head_attribution\", \"patching\", \"comparisons\"]", "\"analyses\": [\"model_check\"]");
        text = text.Replace("\"comparisons\": { \"figures\": [\"head_attribution\", \"resid_pre\"], \"permutations\": 200, \"resamples\": 200 },", "")
            .Replace("\"claims\": [ { \"text\": \"L1H0 is the top head\", \"group\": \"a\", \"kind\": \"top_positive_head\", \"expect\": \"L1H0\" } ],", "");
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Runs the CLI's entry point in-process; returns the exit code.</summary>
    private static int Cli(params string[] args) => (int)Assembly.Load("SharpLens.Cli").EntryPoint!.Invoke(null, [args])!;

    [Fact]
    public void CircuitsSectionComparesTheGroupsCircuitsAndResumes()
    {
        string outDir = Path.Combine(_dir, "run");
        string model = Fixtures.Folder("tiny-b");
        Assert.Equal(0, Cli("study", "run", StudyPath(), "--model", model, "--out", outDir));
        var results = StudyResults.Load(Path.Combine(outDir, "results.json"));
        var section = results.Root[CircuitsSection.Key]!.AsObject();
        Assert.Equal(["a", "b"], section["names"]!.AsArray().Select(n => n!.ToString()));
        double M(string key, int i, int j) => section[key]![i]![j]!.GetValue<double>();
        string Status(int i, int j) => section["cross_faithfulness_status"]![i]![j]!.GetValue<string>();
        var groupA = section["groups"]!["a"]!;
        var groupB = section["groups"]!["b"]!;
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(1.0, M("edge_overlap", i, i));
            Assert.Equal(1.0, M("node_overlap", i, i));
            Assert.Equal(M("edge_overlap", 0, 1), M("edge_overlap", 1, 0));
            var own = section["groups"]![i == 0 ? "a" : "b"]!;
            Assert.Equal(3, own["curve"]!.AsArray().Count);
            Assert.True(own["edges"]!.GetValue<int>() is > 0 and <= 20);
        }

        // a: four swapped pairs with a clear gap, so every faithfulness on a's prompts (column 0) is a number.
        Assert.True(groupA["gap"]!["clear"]!.GetValue<bool>());
        Assert.Equal(4, groupA["gap"]!["units"]!.GetValue<int>());
        Assert.Equal("measured", groupA["faithfulness"]!["status"]!.GetValue<string>());
        Assert.Equal(groupA["faithfulness"]!["faithfulness"]!.GetValue<double>(), M("cross_faithfulness", 0, 0), 5);
        Assert.Equal("measured", Status(1, 0));
        // b: one swapped pair is one unit: its gap cannot be clear, so nothing on b's prompts (column 1) has a number.
        Assert.False(groupB["gap"]!["clear"]!.GetValue<bool>());
        Assert.Equal("undecided", groupB["faithfulness"]!["status"]!.GetValue<string>());
        Assert.Null(groupB["faithfulness"]!["faithfulness"]);
        Assert.All(groupB["curve"]!.AsArray(), p => Assert.Null(p!["faithfulness"]));
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal("undecided", Status(i, 1));
            Assert.Null(section["cross_faithfulness"]![i]![1]);
        }

        // Cross-faithfulness, recomputed independently: b's circuit file evaluated on a's prompts.
        var lm = SharpLens.Loading.ModelLoader.Load(model);
        var circuitA = CircuitJson.Read(Path.Combine(outDir, "circuits", "a.json"), CircuitGraph.For(lm));
        var circuitB = CircuitJson.Read(Path.Combine(outDir, "circuits", "b.json"), CircuitGraph.For(lm));
        Assert.Equal(groupA["edges"]!.GetValue<int>(), circuitA.EdgeCount);
        var study = StudyFile.Load(StudyPath());
        var aGroup = StudyValidation.Resolve(study, StudyTarget.For(lm)).Single(g => g.Name == "a");
        var onA = new PatchingInputs(aGroup.Clean, aGroup.Corrupted, new LogitDiffMetric(aGroup.Answers));
        var bOnA = new CircuitEvaluator(lm, onA).Faithfulness(circuitB, 200);
        Assert.Equal(FaithfulnessStatus.Measured, bOnA.Status);
        Assert.Equal(bOnA.Faithfulness, M("cross_faithfulness", 1, 0), 4);
        Assert.Equal(bOnA.Interval.Lower, M("cross_faithfulness_lower", 1, 0), 4);
        double Jaccard(IEnumerable<string> x, IEnumerable<string> y) => (double)x.Intersect(y).Count() / x.Union(y).Count();
        Assert.Equal(Jaccard(circuitA.Edges.Select(e => e.Name), circuitB.Edges.Select(e => e.Name)), M("edge_overlap", 0, 1), 5);
        // Node overlap compares heads and MLPs: input and logits are in every circuit.
        Assert.Equal(Jaccard(circuitA.ComponentNodes, circuitB.ComponentNodes), M("node_overlap", 0, 1), 5);

        // Path patching into both receivers on the experiment-1 group; the weights view of head 2.1.
        Assert.Equal("a", section["settings"]!["path_group"]!.ToString());
        foreach (var receiver in new[] { "a2.h1<v>", "a2.h1<q>" })
            Assert.Equal(3, SharpLens.Analysis.Grid.FromJson(section["path_patching"]![receiver]!).Rows.Count);
        Assert.Equal("L2H1", section["ov"]!["head"]!.ToString());
        Assert.Equal(4, section["ov"]!["bigrams"]!.AsArray().Count);     // 2 sources x (embedding, effective embedding)

        // The report has the section, and the findings sentence is built from these numbers.
        string html = File.ReadAllText(Path.Combine(outDir, "index.html"));
        Assert.Contains("Cross-faithfulness", html);
        string finding = CircuitsSection.Finding(section);
        Assert.Contains("Verdict: undecided: the effect itself is not measurable on 1 of 2 pairings", finding);
        Assert.Contains("The clean − corrupted logit difference of b is not distinguishable from zero", finding);
        Assert.Contains($"averages {M("cross_faithfulness", 1, 0).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} over 1 measured pairs", finding);

        // Verify compares only what a reference has: a run with a circuits section passes against its own reference.
        string reference = Path.Combine(_dir, "ref.json");
        Assert.Equal(0, Cli("study", "reference", outDir, "--out", reference));
        Assert.Equal(0, Cli("study", "verify", outDir, "--reference", reference));

        // Unchanged: nothing reruns. A changed circuits block reruns only the circuits.
        double Timing() => StudyResults.Load(Path.Combine(outDir, "results.json")).Timings[CircuitsSection.Key]!.GetValue<double>();
        double first = Timing();
        Assert.Equal(0, Cli("study", "run", StudyPath(), "--model", model, "--out", outDir));
        Assert.Equal(first, Timing());
        Assert.Equal(0, Cli("study", "run", StudyPath(Block.Replace("\"edges\": 20", "\"edges\": 12")), "--model", model, "--out", outDir));
        Assert.True(StudyResults.Load(Path.Combine(outDir, "results.json")).Root[CircuitsSection.Key]!["groups"]!["a"]!["edges"]!.GetValue<int>() <= 12);
    }

    [Theory]
    [InlineData("\"groups\": [\"a\", \"b\"]", "\"groups\": [\"a\", \"zz\"]", "unknown group 'zz'")]
    [InlineData("\"edges\": 20", "\"edges\": 20, \"colour\": 1", "colour is not a setting")]
    [InlineData("a2.h1<v>", "a9.h1<v>", "head L9H1 does not exist")]
    [InlineData("a2.h1<q>", "a2.h1", "name its input")]
    [InlineData("\"ov_head\": \"2.1\"", "\"ov_head\": \"2.7\"", "head L2H7 does not exist")]
    [InlineData("\"edges\": 20", "\"edges\": 0", "--edges must be between 1")]
    [InlineData("\"steps\": 3", "\"steps\": \"many\"", "steps must be an integer")]
    [InlineData("\"curve\": [5, 10, 40]", "\"curve\": [5, 0]", "curve must list circuit sizes")]
    [InlineData("\"bigram_answers\": [30, 31]", "\"bigram_answers\": [30, 500]", "outside the model's vocabulary")]
    [InlineData("\"groups\": [\"a\", \"b\"],", "\"method\": \"acdc\",", "method 'acdc' is not known")]
    public void BadCircuitsSettingsAreOneLineErrorsBeforeAnyRun(string from, string to, string expected)
    {
        var model = SharpLens.Loading.ModelLoader.Load(Fixtures.Folder("tiny-b"));
        var e = Assert.Throws<InvalidInputException>(() =>
            StudyValidation.Resolve(StudyFile.Load(StudyPath(Block.Replace(from, to), "bad.json")), StudyTarget.For(model)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void TheCommandLineRejectsABadCircuitsBlockWithExitCode2AndWritesNothing()
    {
        string outDir = Path.Combine(_dir, "bad");
        var r = CliRunner.Run("study", "run", StudyPath(Block.Replace("a2.h1<v>", "a2.h9<v>"), "bad.json"), "--model", Fixtures.Folder("tiny-b"), "--out", outDir);
        Assert.Equal(2, r.ExitCode);
        CliRunner.AssertOneLineError(r, "head L2H9 does not exist");
        Assert.False(File.Exists(Path.Combine(outDir, "results.json")));
    }

    [Fact]
    public void TheContractionStudysCircuitsBlockValidatesForGpt2Small()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "studies", "contractions.json");
        var study = StudyFile.Load(path);
        var groups = StudyValidation.Resolve(study, StudyTarget.Gpt2Small);
        var (circuits, pathGroup) = study.Circuits!.Resolve(groups, StudyTarget.Gpt2Small);
        Assert.Equal(8, circuits.Count);
        Assert.Equal("re_they", pathGroup.Name);
        Assert.Equal(["a7.h11<v>", "a7.h11<q>"], study.Circuits.Receivers);
        Assert.Equal(EdgeScoringMethod.EapIg, study.Circuits.Method);
    }
    [Fact]
    public void TheSectionHoldsOneGroupsEvaluatorAtATimeAndReleasesTheBackwardWeights()
    {
        var model = SharpLens.Loading.ModelLoader.Load(Fixtures.Folder("tiny-b"));
        var study = StudyFile.Load(StudyPath());
        var groups = StudyValidation.Resolve(study, StudyTarget.For(model));
        var built = new List<(string Group, WeakReference Evaluator)>();
        var aliveAtBuild = new List<int>();
        var backwardHeldAtBuild = new List<bool>();
        CircuitEvaluator Build(ResolvedGroup g)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            aliveAtBuild.Add(built.Count(b => b.Evaluator.IsAlive));
            backwardHeldAtBuild.Add(model.HoldsBackwardWeights);
            var evaluator = new CircuitEvaluator(model, new PatchingInputs(g.Clean, g.Corrupted, new LogitDiffMetric(g.Answers)));
            built.Add((g.Name, new WeakReference(evaluator)));
            return evaluator;
        }
        CircuitsSection.Run(model, study.Circuits!, groups, _dir, null, Build);
        // Each group's evaluator is built once for its circuit and once for its cross-faithfulness column, and none
        // survives into the next build (the section used to keep every group's to the end).
        Assert.Equal(["a", "b", "a", "b"], built.Select(b => b.Group));
        Assert.All(aliveAtBuild, alive => Assert.Equal(0, alive));
        // The transposed backward weights serve every group's edge scoring, then go before the forward-only rest.
        Assert.Equal([false, true, false, false], backwardHeldAtBuild);
        Assert.False(model.HoldsBackwardWeights, "the transposed backward weights outlived the edge scoring");
    }
}
