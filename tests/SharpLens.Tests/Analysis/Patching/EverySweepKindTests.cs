using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Studies;
using SharpLens.Tests.Server;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>
/// One patching path: every sweep kind of <see cref="SweepNames"/> (the <c>_by_pos</c> ones included) is accepted by
/// <c>sharplens patch --what</c>, the explorer's <c>/api/patch</c> (exact and attribution) and a study's
/// <c>patching</c> list, each keyed by <see cref="SweepNames.Key"/> and each equal to the library's own engine on the same
/// prompts. A kind added to <see cref="SweepNames"/> is enumerated here without touching this test.
/// </summary>
public class EverySweepKindTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    const int NeuronLayer = 1;

    (AnalysisInput Data, PatchingInputs Inputs) Prompts()
    {
        var data = AnalysisInput.Parse(JsonSerializer.Serialize(ExplorerApiTests.Input), AnalysisInputOptions.For(fx.Model));
        return (data, new PatchingInputs(data.Clean, data.Corrupted, new LogitDiffMetric(data.Answers)));
    }

    /// <summary>The library's normalized grid of every kind, keyed as results key them.</summary>
    Dictionary<string, Grid> Library(IPatchingEngine engine) =>
        engine.RunEach(engine.Plan(SweepNames.All, [NeuronLayer])).ToDictionary(g => g.Key, g => g.Grid);

    static void AssertEveryKind(Dictionary<string, Grid> expected, Func<string, JsonNode?> actual, string where)
    {
        Assert.Equal(SweepNames.All.Count, expected.Count);
        foreach (var (key, grid) in expected)
        {
            var node = actual(key);
            Assert.True(node is not null, $"{where} has no grid '{key}'");
            ExplorerApiTests.AssertGrid(grid, node!);
        }
    }

    [Fact]
    public async Task The_explorer_accepts_every_kind_with_the_librarys_numbers_and_says_what_each_cell_patches()
    {
        var (data, inputs) = Prompts();
        foreach (var method in new[] { "exact", "attribution" })
        {
            var (status, job) = await fx.Post("/api/patch", new { input = ExplorerApiTests.Input, kinds = SweepNames.All, neuron_layers = new[] { NeuronLayer }, method });
            Assert.True(status == 200, job.ToJsonString());
            var events = await ExplorerApiTests.ReadEvents(fx, job["job"]!.ToString());
            Assert.Equal("result", events[^1].Name);
            var result = events[^1].Data["result"]!;
            var options = new PatchingOptions { StrTokens = data.CleanStrTokens[0] };
            IPatchingEngine engine = method == "exact" ? new ActivationPatcher(fx.Model, inputs, options) : new AttributionPatcher(fx.Model, inputs, options);
            var expected = Library(engine);
            AssertEveryKind(expected, key => result[key], $"the explorer ({method})");
            foreach (var named in engine.Plan(SweepNames.All, [NeuronLayer]))
            {
                var components = result[named.Key]!["components"];
                if (named.Sweep.Components() is not { } c) { Assert.Null(components); continue; }
                Assert.Equal(c.Kind, components!["kind"]!.ToString());
                Assert.Equal(c.RowLayers, components["row_layers"]!.AsArray().Select(n => n!.GetValue<int>()));
                Assert.Equal(c.ColIndices, components["col_indices"]!.AsArray().Select(n => n!.GetValue<int>()));
            }
        }
        var info = JsonNode.Parse(await fx.Http.GetStringAsync("/api/model"))!;
        Assert.Equal(SweepNames.All, info["patch_kinds"]!.AsArray().Select(n => n!.ToString()));
    }

    [Fact]
    public void The_cli_accepts_every_kind_with_the_librarys_numbers()
    {
        string dir = CliRunner.TempDir(), input = Path.Combine(dir, "input.json"), output = Path.Combine(dir, "patch.json");
        File.WriteAllText(input, JsonSerializer.Serialize(ExplorerApiTests.Input));
        var run = CliRunner.Run("patch", "--model", RandomCheckpoint.Shared, "--input", input, "--what", string.Join(",", SweepNames.All),
            "--neuron-layers", NeuronLayer.ToString(), "--json", output);
        Assert.True(run.ExitCode == 0, run.Stderr);
        var json = JsonNode.Parse(File.ReadAllText(output))!;
        var (data, inputs) = Prompts();
        AssertEveryKind(Library(new ActivationPatcher(fx.Model, inputs, new PatchingOptions { StrTokens = data.CleanStrTokens[0] })), key => json[key], "sharplens patch");
    }

    [Fact]
    public void A_study_accepts_every_kind_with_the_librarys_numbers_and_draws_each()
    {
        string dir = CliRunner.TempDir();
        var input = JsonSerializer.SerializeToNode(ExplorerApiTests.Input)!;
        var study = StudyFile.FromNode(new JsonObject
        {
            ["name"] = "every-kind",
            ["groups"] = new JsonObject
            {
                ["g"] = new JsonObject
                {
                    ["prompts"] = input["clean"]!.DeepClone(),
                    ["answers"] = input["answers"]!.DeepClone(),
                    ["analyses"] = new JsonArray("patching"),
                    ["patching"] = new JsonArray(SweepNames.All.Select(k => (JsonNode?)k).ToArray()),
                    ["neuron_layers"] = new JsonArray(NeuronLayer),
                },
            },
        });
        new StudyRunner(fx.Model, study, new StudyRunOptions { OutDir = dir }).Run();
        var results = StudyResults.Load(Path.Combine(dir, "results.json"));
        var (data, inputs) = Prompts();
        var expected = Library(new ActivationPatcher(fx.Model, inputs, new PatchingOptions { StrTokens = data.CleanStrTokens[0] }));
        // The study keeps one grid per sweep name ("neurons" over the group's neuron layers).
        AssertEveryKind(expected, key => results.Get("g", $"patching/{(key == SweepNames.Key(SweepNames.Neurons, NeuronLayer) ? SweepNames.Neurons : key)}")?["grid"], "the study");
        string report = File.ReadAllText(Path.Combine(dir, "index.html"));
        foreach (var kind in SweepNames.All) Assert.Contains($"Logit Difference From Patched {SweepNames.Title(kind)}", report);
    }
}
