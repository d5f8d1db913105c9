using System.Text.Json.Nodes;
using SharpLens.Circuits;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Circuits;

/// <summary>
/// Circuit files against EAP-IG's current <c>Graph.to_json</c>/<c>from_json</c> format. The fixtures in
/// <c>fixtures/eap-ig/</c> come from <c>tests/reference/eap_ig_graph_json.py</c>: <c>eap-ig-current.json</c> is written
/// by its rebuilding of <c>to_json</c> (tiny-b's shape, seeded scores, apply_topn + prune); <c>sharplens-written.json</c>
/// is what <c>sharplens circuit --json</c> wrote on tiny-b, and the script's <c>check</c> (the work of <c>from_json</c>,
/// with its indexing and torch assignments) accepted it.
/// </summary>
public class EapIgGraphJsonTests
{
    private static readonly CircuitGraph TinyB = new(3, 3, 48);
    private static string Fixture(string name) => Path.Combine(Fixtures.Folder("eap-ig"), name);

    [Fact]
    public void ReadsEveryEdgeScoreAndNodeOfAFileInEapIgsCurrentFormat()
    {
        string path = Fixture("eap-ig-current.json");
        var file = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var circuit = CircuitJson.Read(path, TinyB);

        var edges = file["edges"]!.AsObject();
        Assert.Equal(TinyB.Edges.Select(e => e.Name).Order(StringComparer.Ordinal), edges.Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var (name, value) in edges)
        {
            Assert.Equal(value!["in_graph"]!.GetValue<bool>(), circuit.Contains(TinyB.Edge(name)));
            Assert.Equal((float)value["score"]!.GetValue<double>(), circuit.Scores![name]);
        }
        Assert.Equal(10, circuit.EdgeCount);   // the script's apply_topn(24) pruned to 10
        var inGraphNodes = file["nodes"]!.AsObject().Where(p => p.Value!["in_graph"]!.GetValue<bool>()).Select(p => p.Key);
        Assert.Equal(inGraphNodes.Order(StringComparer.Ordinal), circuit.Nodes.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void WritesThatFileBackInTheSameFormatWithTheSameValues()
    {
        string path = Fixture("eap-ig-current.json");
        var original = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        using var dir = new TempDir();
        string back = dir.File("back.json");
        CircuitJson.Write(CircuitJson.Read(path, TinyB), back);
        var written = JsonNode.Parse(File.ReadAllText(back))!.AsObject();

        Assert.Equal(["cfg", "nodes", "edges"], written.Select(p => p.Key));
        Assert.True(JsonNode.DeepEquals(original["cfg"], written["cfg"]), written["cfg"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(original["nodes"], written["nodes"]), written["nodes"]!.ToJsonString());
        var writtenEdges = written["edges"]!.AsObject();
        Assert.Equal(original["edges"]!.AsObject().Count, writtenEdges.Count);
        foreach (var (name, value) in original["edges"]!.AsObject())
        {
            Assert.Equal(["score", "in_graph"], writtenEdges[name]!.AsObject().Select(p => p.Key));
            Assert.Equal(value!["in_graph"]!.GetValue<bool>(), writtenEdges[name]!["in_graph"]!.GetValue<bool>());
            // EAP-IG's scores are a float32 tensor: the float32 value is what must survive, not Python's 17-digit text.
            Assert.Equal((float)value["score"]!.GetValue<double>(), (float)writtenEdges[name]!["score"]!.GetValue<double>());
        }
    }

    [Fact]
    public void TheWriterStillWritesWhatEapIgsReadingAcceptedOnTheCommittedSharpLensFile()
    {
        // sharplens-written.json passed the script's from_json check; reading it and writing it again must give the same
        // cfg, nodes and edges, byte for byte. If the writer changes, rerun the check on its new output and update the file.
        string path = Fixture("sharplens-written.json");
        var original = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        using var dir = new TempDir();
        string back = dir.File("back.json");
        CircuitJson.Write(CircuitJson.Read(path, TinyB), back);
        var written = JsonNode.Parse(File.ReadAllText(back))!.AsObject();
        foreach (var key in new[] { "cfg", "nodes", "edges" })
            Assert.Equal(original[key]!.ToJsonString(), written[key]!.ToJsonString());
        Assert.NotNull(original["sharplens"]);   // the extra key EAP-IG's reader ignores
    }

    [Fact]
    public void ACircuitWithoutScoresIsWrittenWithZerosNeverNull()
    {
        var flags = new bool[TinyB.Edges.Count];
        flags[TinyB.EdgeIndexByName["input->logits"]] = true;
        using var dir = new TempDir();
        string path = dir.File("c.json");
        CircuitJson.Write(new Circuit(TinyB, flags), path);
        var doc = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.DoesNotContain("null", File.ReadAllText(path));
        Assert.All(doc["edges"]!.AsObject(), p => Assert.Equal(0.0, p.Value!["score"]!.GetValue<double>()));
        Assert.True(doc["nodes"]!["input"]!["in_graph"]!.GetValue<bool>());
        Assert.False(doc["nodes"]!["m0"]!["in_graph"]!.GetValue<bool>());
    }

    [Fact]
    public void OlderFormatsAreStillRead()
    {
        // EAP-IG before 2025 and SharpLens before issue 19: bare boolean nodes; older SharpLens: "score": null.
        string json = """
            {"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48, "parallel_attn_mlp": false},
             "nodes": {"input": true, "m2": true, "logits": true, "a0.h0": false},
             "edges": {"input->m2": {"score": null, "in_graph": true}, "m2->logits": {"score": null, "in_graph": true}}}
            """;
        var circuit = CircuitJson.Parse(System.Text.Json.JsonDocument.Parse(json).RootElement, TinyB, "old.json");
        Assert.Equal(["input->m2", "m2->logits"], circuit.Edges.Select(e => e.Name));
        Assert.Null(circuit.Scores);
    }

    [Theory]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "nodes": {"m0": {"score": 1}}, "edges": {}}""", "node 'm0' must be {\"in_graph\": true or false}")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "nodes": {"m0": 1}, "edges": {}}""", "node 'm0' must be")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "nodes": [], "edges": {}}""", "\"nodes\" must be an object")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "nodes": {"m0": {"in_graph": true, "neurons": [true, false]}}, "edges": {}}""", "neuron-level circuit")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "edges": {"m2->logits": {"score": 1}}}""", "edge 'm2->logits': in_graph is missing")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "edges": {"m2->logits": {"score": "1", "in_graph": true}}}""", "edge 'm2->logits': score must be a finite number, got \"1\"")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48}, "edges": {"m2->logits": {"score": 1e300, "in_graph": true}}}""", "score must be a finite number, got 1e300")]
    [InlineData("""{"cfg": {"n_layers": 3, "n_heads": 3, "d_model": 48, "parallel_attn_mlp": "no"}, "edges": {}}""", "cfg.parallel_attn_mlp must be true or false")]
    [InlineData("""{"cfg": {"n_layers": 3.5, "n_heads": 3, "d_model": 48}, "edges": {}}""", "cfg.n_layers is missing or not an integer")]
    public void WrongTypesAreOneLineErrorsNamingTheField(string json, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => CircuitJson.Parse(System.Text.Json.JsonDocument.Parse(json).RootElement, TinyB, "c.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("c.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
