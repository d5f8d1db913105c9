using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpLens.Loading;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Reports;
using SharpLens.Tests.Neurons;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Reports;

/// <summary>
/// <c>sharplens index</c> lists every run: one of each command that writes a report folder is made on a tiny random
/// GPT-2 (full vocabulary, so text prompts work), and the index must have one row per folder, of the right kind, with
/// its creation time; every report.json records when it was made, and nothing else in a report changes between runs.
/// </summary>
public class RunIndexKindsTests
{
    /// <summary>A tiny checkpoint with GPT-2's vocabulary, a second one (another model), a corpus and an index built over it.</summary>
    internal static readonly Lazy<(string Model, string Other, string Corpus, string Db)> Inputs = new(() =>
    {
        string root = CliRunner.TempDir();
        string model = TinyIndexModel.WriteCheckpoint(Path.Combine(root, "model"), seed: 1);
        string other = TinyIndexModel.WriteCheckpoint(Path.Combine(root, "other"), seed: 2);
        string corpus = TinyIndexModel.WriteCorpus(Path.Combine(root, "corpus"));
        string db = Path.Combine(root, "neurons.db");
        NeuronIndexBuilder.Build(ModelLoader.Load(model), Corpus.Open(corpus), db, new IndexOptions { Context = 16, TopK = 4 });
        return (model, other, corpus, db);
    });

    internal const string InputJson = """
        { "clean": ["We're helping our friend when they", "We are helping our friend when they"],
          "corrupted": "swap_pairs",
          "answers": [["'re", " are"], [" are", "'re"]] }
        """;

    /// <summary>A two-group-free study of the tiny model: token ids, a named neuron, neuron patching of both layers.</summary>
    internal const string StudyJson = """
        {
          "name": "tiny-neurons",
          "title": "Tiny study with neurons",
          "questions": ["Which neurons matter?"],
          "groups": {
            "a": {
              "experiment": 1,
              "prompts": [[50256, 5, 6, 7, 8], [50256, 9, 10, 11, 12]],
              "answers": [[30, 31], [31, 30]],
              "corrupted": "swap_pairs",
              "analyses": ["model_check", "head_attribution", "neuron_patching"],
              "neuron_layers": [0, 1],
              "top_neurons": 2,
              "neurons": ["L1N5"]
            }
          }
        }
        """;

    static void Ok(CliRunner.Result r, string what) => Assert.True(r.ExitCode == 0, $"{what}: exit {r.ExitCode}\n{r.Stderr}");

    [Fact]
    public void Index_lists_one_row_per_report_kind_with_its_creation_time()
    {
        var (model, _, _, db) = Inputs.Value;
        string dir = CliRunner.TempDir(), reports = Path.Combine(dir, "reports");
        string input = Path.Combine(dir, "input.json"), study = Path.Combine(dir, "study.json");
        File.WriteAllText(input, InputJson);
        File.WriteAllText(study, StudyJson);
        string R(string name) => Path.Combine(reports, name);
        const string prompt = "We're helping our friend when they";

        var expected = new Dictionary<string, string>
        {
            ["study"] = "study", ["attribute"] = "attribute", ["patch"] = "patch", ["plot"] = "plot",
            ["attention"] = "view attention", ["neuron-view"] = "view neurons", ["neuron-pages"] = "neuron pages",
            ["circuit"] = "circuit", ["circuit-evaluate"] = "circuit evaluate", ["ov"] = "ov", ["path-patch"] = "path-patch",
        };
        Ok(CliRunner.Run("study", "run", study, "--model", model, "--out", R("study")), "study run");
        Ok(CliRunner.Run("attribute", "--model", model, "--input", input, "--json", Path.Combine(dir, "dla.json"), "--plot", R("attribute")), "attribute");
        Ok(CliRunner.Run("patch", "--model", model, "--input", input, "--what", "resid_pre", "--json", Path.Combine(dir, "patch.json"), "--plot", R("patch")), "patch");
        Ok(CliRunner.Run("plot", Path.Combine(dir, "patch.json"), "--out", R("plot")), "plot");
        Ok(CliRunner.Run("view", "attention", "--model", model, "--prompt", prompt, "--heads", "1.1", "--out", R("attention")), "view attention");
        Ok(CliRunner.Run("view", "neurons", "--model", model, "--prompt", prompt, "--neurons", "L1N5", "--out", R("neuron-view")), "view neurons");
        Ok(CliRunner.Run("neurons", "show", "L1N5", "L0", "--db", db, "--out", R("neuron-pages"), "--layer-pages", "2"), "neurons show");
        // Circuits on the golden tiny model, whose prompts give a non-empty circuit (as in CircuitCliTests).
        string circuit = Path.Combine(dir, "circuit.json"), tiny = Fixtures.Folder("tiny-b"), tinyInput = Path.Combine(dir, "tiny-input.json");
        var t = Fixtures.Tokens("tiny-b");
        File.WriteAllText(tinyInput, System.Text.Json.JsonSerializer.Serialize(new { clean = t.Clean, corrupted = t.Corrupted, answers = t.Answers }));
        Ok(CliRunner.Run("circuit", "--model", tiny, "--input", tinyInput, "--method", "eap-ig", "--edges", "20", "--curve", "5,20", "--json", circuit, "--plot", R("circuit")), "circuit");
        Ok(CliRunner.Run("circuit", "evaluate", circuit, "--model", tiny, "--input", tinyInput, "--plot", R("circuit-evaluate")), "circuit evaluate");
        Ok(CliRunner.Run("ov", "--model", model, "--head", "1.1", "--token-ids", "5,6", "--plot", R("ov")), "ov");
        Ok(CliRunner.Run("path-patch", "--model", model, "--input", input, "--receivers", "logits", "--json", Path.Combine(dir, "path.json"), "--plot", R("path-patch")), "path-patch");
        Ok(CliRunner.Run("index", reports), "index");

        string html = File.ReadAllText(Path.Combine(reports, "index.html"));
        var rows = Regex.Matches(html, "<tr data-kind=\"([^\"]+)\"[^>]*>(.*?)</tr>", RegexOptions.Singleline);
        var byFolder = new Dictionary<string, (string Kind, string Href, string Created)>();
        foreach (Match row in rows)
        {
            var href = Regex.Match(row.Groups[2].Value, "<a href=\"([^\"]+)\"").Groups[1].Value;
            var created = Regex.Match(row.Groups[2].Value, "<td class=\"sl-created\">([^<]*)</td>").Groups[1].Value;
            byFolder[Uri.UnescapeDataString(href.Split('/')[0])] = (row.Groups[1].Value, href, created);
        }
        Assert.Equal(expected.Keys.Order(), byFolder.Keys.Order());
        foreach (var (folder, kind) in expected)
        {
            var (rowKind, href, created) = byFolder[folder];
            Assert.Equal(kind, rowKind);
            Assert.True(File.Exists(Path.Combine(reports, Uri.UnescapeDataString(href))), $"{folder}: the index links to {href}, which does not exist");
            Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d", created);
            // report.json says the same, with the full timestamp.
            var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(reports, folder, "report.json")))!;
            Assert.Equal(kind, meta["kind"]!.GetValue<string>());
            Assert.True(DateTimeOffset.TryParse(meta["created"]?.GetValue<string>(), out var when), $"{folder}: created is {meta["created"]}");
            Assert.True(Math.Abs((DateTimeOffset.UtcNow - when).TotalHours) < 1, $"{folder}: created {when}");
        }
    }

    [Fact]
    public void Result_reports_record_their_creation_time_and_are_otherwise_deterministic()
    {
        string dir = Samples.TempDir("created");
        var grid = Samples.Grid(3, 5);
        var result = new JsonObject { ["model"] = "tiny", ["resid_pre"] = grid.ToJson(), ["clean_logit_diff"] = 1.5 };
        string json = Path.Combine(dir, "result.json");
        File.WriteAllText(json, result.ToJsonString());
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        GridPlotter.FromResultJson(json, Path.Combine(dir, "a"), staticImages: false);
        GridPlotter.FromResultJson(json, Path.Combine(dir, "b"), staticImages: false);

        var a = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "a", "report.json")))!.AsObject();
        Assert.True(DateTimeOffset.TryParse(a["created"]?.GetValue<string>(), out var created), $"created is {a["created"]}");
        Assert.InRange(created, before, DateTimeOffset.UtcNow.AddSeconds(1));

        // Everything but the timestamp is the same in both runs.
        static string Strip(string text) => Regex.Replace(text, @"\d{4}-\d\d-\d\d[T ]\d\d:\d\d[^""<]*", "TIME");
        foreach (var file in Directory.GetFiles(Path.Combine(dir, "a"), "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(Path.Combine(dir, "a"), file);
            if (rel.StartsWith("assets", StringComparison.Ordinal)) continue;      // the bundled scripts, copied as they are
            Assert.Equal(Strip(File.ReadAllText(file)), Strip(File.ReadAllText(Path.Combine(dir, "b", rel))));
        }
    }
}
