using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpLens.Circuits;

/// <summary>
/// Circuits in the graph JSON the EAP-IG library writes and reads (Graph.to_json / from_json):
/// <c>{"cfg": {"n_layers", "n_heads", "d_model", "parallel_attn_mlp"}, "nodes": {name: in_graph}, "edges": {name: {"score", "in_graph"}}}</c>.
/// Nodes are written as EAP-IG writes them (a bare boolean); on reading, <c>{"in_graph": bool}</c> objects are accepted too.
/// A file for a different model shape, or with a node or edge name the model's graph lacks, is refused with a one-line error.
/// </summary>
public static class CircuitJson
{
    // Edge names hold '<' and '>': write them as they are (Python's json does the same) instead of \u003C escapes.
    private static readonly JsonSerializerOptions Plain = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The EAP-IG graph JSON of <paramref name="circuit"/> (scores null when it has none).</summary>
    public static JsonObject ToJson(Circuit circuit)
    {
        var graph = circuit.Graph;
        var nodes = circuit.Nodes;
        var edges = new JsonObject();
        for (int i = 0; i < graph.Edges.Count; i++)
        {
            var e = graph.Edges[i];
            edges[e.Name] = new JsonObject
            {
                ["score"] = circuit.Scores is null ? null : JsonValue.Create(circuit.Scores[e]),
                ["in_graph"] = circuit.EdgeFlags[i],
            };
        }
        return new JsonObject
        {
            ["cfg"] = new JsonObject { ["n_layers"] = graph.NLayers, ["n_heads"] = graph.NHeads, ["d_model"] = graph.DModel, ["parallel_attn_mlp"] = false },
            ["nodes"] = new JsonObject(graph.NodeNames.Select(n => KeyValuePair.Create(n, (JsonNode?)nodes.Contains(n)))),
            ["edges"] = edges,
        };
    }

    /// <summary>
    /// Writes <paramref name="circuit"/> to <paramref name="path"/> atomically (temp file + rename). <paramref name="extra"/>
    /// properties (e.g. a run summary) are added at the top level; EAP-IG's reader ignores keys it does not know.
    /// </summary>
    public static void Write(Circuit circuit, string path, JsonObject? extra = null)
    {
        var doc = ToJson(circuit);
        if (extra is not null)
            foreach (var (key, value) in extra.ToList()) { extra.Remove(key); doc[key] = value; }
        AtomicFile.WriteAllText(path, doc.ToJsonString(Plain));
    }

    /// <summary>Reads a circuit for the model whose graph is <paramref name="graph"/>; refuses files for another model.</summary>
    public static Circuit Read(string path, CircuitGraph graph)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"circuit file '{path}' does not exist: pass the JSON written by 'sharplens circuit --json' or EAP-IG's Graph.to_json");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidInputException($"circuit file '{path}' is not valid JSON ({e.Message.Split('.')[0]}): pass an EAP-IG graph JSON"); }
        using (doc) return Parse(doc.RootElement, graph, path);
    }

    /// <summary>Parses an EAP-IG graph JSON document (see <see cref="Read"/>).</summary>
    public static Circuit Parse(JsonElement root, CircuitGraph graph, string source)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("cfg", out var cfg) || cfg.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"{source}: not an EAP-IG graph JSON (no \"cfg\" object)");
        int Field(string name) => cfg.TryGetProperty(name, out var v) && v.TryGetInt32(out int x) ? x
            : throw new InvalidInputException($"{source}: cfg.{name} is missing or not an integer");
        int layers = Field("n_layers"), heads = Field("n_heads"), dModel = Field("d_model");
        if (layers != graph.NLayers || heads != graph.NHeads || dModel != graph.DModel)
            throw new InvalidInputException(
                $"{source} is a circuit for a model with {layers} layers x {heads} heads, d_model {dModel}, but this model has " +
                $"{graph.NLayers} x {graph.NHeads}, d_model {graph.DModel}: use the model the circuit was found on");
        if (cfg.TryGetProperty("parallel_attn_mlp", out var par) && par.ValueKind == JsonValueKind.True)
            throw new InvalidInputException($"{source} is a circuit for a parallel attention/MLP model; GPT-2 runs attention then MLP");
        if (root.TryGetProperty("nodes", out var nodes) && nodes.ValueKind == JsonValueKind.Object)
            foreach (var node in nodes.EnumerateObject())
                if (!graph.HasNode(node.Name))
                    throw new InvalidInputException($"{source}: {graph.UnknownNodeMessage(node.Name)}");
        if (!root.TryGetProperty("edges", out var edges) || edges.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"{source}: no \"edges\" object");
        var flags = new bool[graph.Edges.Count];
        var matrix = new float[graph.NForward * graph.NBackward];
        bool anyScore = false;
        foreach (var prop in edges.EnumerateObject())
        {
            Edge edge;
            try { edge = graph.Edge(prop.Name); }
            catch (InvalidInputException e) { throw new InvalidInputException($"{source}: {e.Message}"); }
            int i = graph.EdgeIndexByName[prop.Name];
            var v = prop.Value;
            if (v.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"{source}: edge '{prop.Name}' must be an object {{\"score\": number, \"in_graph\": bool}}");
            if (v.TryGetProperty("in_graph", out var ig)) flags[i] = ig.ValueKind == JsonValueKind.True;
            if (v.TryGetProperty("score", out var s) && s.ValueKind == JsonValueKind.Number)
            {
                matrix[edge.Parent.Index * graph.NBackward + edge.Child.Index] = s.GetSingle();
                anyScore = true;
            }
        }
        return new Circuit(graph, flags, anyScore ? new EdgeScores(graph, matrix, "file") : null);
    }

    /// <summary>Throws a one-line error when the circuit has no edges (evaluating it would patch everything).</summary>
    public static void RequireNonEmpty(Circuit circuit, string source)
    {
        if (circuit.EdgeCount == 0)
            throw new InvalidInputException($"{source} is an empty circuit (no edge has in_graph true): select edges first, e.g. 'sharplens circuit --edges 200'");
    }
}

/// <summary>Writes files so that a reader never sees half of one: write a temp file next to it, then rename.</summary>
internal static class AtomicFile
{
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string temp = full + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        finally { if (File.Exists(temp)) File.Delete(temp); }
    }

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text));
}
