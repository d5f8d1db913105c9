using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpLens.Circuits;

/// <summary>
/// Circuits in the graph JSON of EAP-IG's current <c>Graph.to_json</c> / <c>Graph.from_json</c> (src/eap/graph.py):
/// <c>{"cfg": {"n_layers", "n_heads", "parallel_attn_mlp", "d_model"}, "nodes": {name: {"in_graph": bool}},
/// "edges": {name: {"score": number, "in_graph": bool}}}</c>. Every node (logits included) and every edge is written,
/// every score is a number (EAP-IG's reader assigns it into a float tensor, so <c>null</c> would fail there).
/// On reading, nodes given as bare booleans (EAP-IG before 2025, SharpLens before issue 19) and <c>"score": null</c>
/// (older SharpLens files without scores) are accepted too. A file for a different model shape, with a node or edge
/// name the model's graph lacks, a value of the wrong type, or a neuron-level mask is refused with a one-line error
/// that names the file and the field.
/// </summary>
public static class CircuitJson
{
    // Edge names hold '<' and '>': write them as they are (Python's json does the same) instead of \u003C escapes.
    private static readonly JsonSerializerOptions Plain = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The EAP-IG graph JSON of <paramref name="circuit"/>. A circuit without scores is written with score 0 for every
    /// edge, the value EAP-IG's <c>Graph.from_model</c> starts every score at.
    /// </summary>
    public static JsonObject ToJson(Circuit circuit)
    {
        var graph = circuit.Graph;
        var nodes = circuit.Nodes;
        var edges = new JsonObject();
        for (int i = 0; i < graph.Edges.Count; i++)
        {
            var e = graph.Edges[i];
            edges[e.Name] = new JsonObject { ["score"] = circuit.Scores?[e] ?? 0f, ["in_graph"] = circuit.EdgeFlags[i] };
        }
        return new JsonObject
        {
            // Key order as EAP-IG's Graph.from_model fills its cfg.
            ["cfg"] = new JsonObject { ["n_layers"] = graph.NLayers, ["n_heads"] = graph.NHeads, ["parallel_attn_mlp"] = graph.ParallelAttnMlp, ["d_model"] = graph.DModel },
            ["nodes"] = new JsonObject(graph.NodeNames.Select(n => KeyValuePair.Create(n, (JsonNode?)new JsonObject { ["in_graph"] = nodes.Contains(n) }))),
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
        string text = InputFiles.ReadText(path, "circuit file", "pass the JSON written by 'sharplens circuit --json' or EAP-IG's Graph.to_json");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, InputFiles.DocumentOptions()); }
        catch (JsonException e) { throw new InvalidInputException($"circuit file '{path}' is not valid JSON ({InputFiles.JsonError(e)}): pass an EAP-IG graph JSON"); }
        using (doc) return Parse(doc.RootElement, graph, path);
    }

    /// <summary>Parses an EAP-IG graph JSON document (see <see cref="Read"/>).</summary>
    public static Circuit Parse(JsonElement root, CircuitGraph graph, string source)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("cfg", out var cfg) || cfg.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"{source}: not an EAP-IG graph JSON (no \"cfg\" object)");
        int Field(string name) => cfg.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int x) ? x
            : throw new InvalidInputException($"{source}: cfg.{name} is missing or not an integer");
        int layers = Field("n_layers"), heads = Field("n_heads"), dModel = Field("d_model");
        if (layers != graph.NLayers || heads != graph.NHeads || dModel != graph.DModel)
            throw new InvalidInputException(
                $"{source} is a circuit for a model with {layers} layers x {heads} heads, d_model {dModel}, but this model has " +
                $"{graph.NLayers} x {graph.NHeads}, d_model {graph.DModel}: use the model the circuit was found on");
        if (cfg.TryGetProperty("parallel_attn_mlp", out var par))
        {
            if (par.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw new InvalidInputException($"{source}: cfg.parallel_attn_mlp must be true or false");
            if ((par.ValueKind == JsonValueKind.True) != graph.ParallelAttnMlp)
                throw new InvalidInputException(graph.ParallelAttnMlp
                    ? $"{source} is a circuit for a model that runs attention then MLP, but this model's blocks are parallel: use the model the circuit was found on"
                    : $"{source} is a circuit for a parallel attention/MLP model, but this model runs attention then MLP: use the model the circuit was found on");
        }
        if (root.TryGetProperty("nodes", out var nodes))
            ReadNodes(nodes, graph, source);
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
            flags[i] = v.TryGetProperty("in_graph", out var ig) && ig.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? ig.ValueKind == JsonValueKind.True
                : throw new InvalidInputException($"{source}: edge '{prop.Name}': in_graph is missing or not true/false");
            if (!v.TryGetProperty("score", out var s) || s.ValueKind == JsonValueKind.Null) continue;
            matrix[edge.Parent.Index * graph.NBackward + edge.Child.Index] = FiniteScore(s, source, prop.Name);
            anyScore = true;
        }
        return new Circuit(graph, flags, anyScore ? new EdgeScores(graph, matrix, "file") : null);
    }

    // Node flags follow from the edges (EAP-IG's evaluate_graph prunes and recomputes them too), so they are only
    // checked: a known name, in_graph a boolean (bare, as EAP-IG wrote before 2025, or {"in_graph": bool}), and no
    // neuron-level mask that would restrict a node to some of its neurons, which an edge-level circuit cannot express.
    private static void ReadNodes(JsonElement nodes, CircuitGraph graph, string source)
    {
        if (nodes.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{source}: \"nodes\" must be an object {{name: {{\"in_graph\": bool}}}}");
        foreach (var node in nodes.EnumerateObject())
        {
            if (!graph.HasNode(node.Name))
                throw new InvalidInputException($"{source}: {graph.UnknownNodeMessage(node.Name)}");
            var v = node.Value;
            if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) continue;
            if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("in_graph", out var ig) || ig.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw new InvalidInputException($"{source}: node '{node.Name}' must be {{\"in_graph\": true or false}}");
            if (v.TryGetProperty("neurons", out var neurons) && neurons.ValueKind == JsonValueKind.Array && neurons.EnumerateArray().Any(n => n.ValueKind != JsonValueKind.True))
                throw new InvalidInputException($"{source}: node '{node.Name}' keeps only some of its neurons (a neuron-level circuit); SharpLens evaluates edge-level circuits only");
        }
    }

    private static float FiniteScore(JsonElement score, string source, string edge) =>
        score.ValueKind == JsonValueKind.Number && score.TryGetDouble(out double d) && float.IsFinite((float)d) ? (float)d
            : throw new InvalidInputException($"{source}: edge '{edge}': score must be a finite number, got {Shorten(score.GetRawText())}");

    private static string Shorten(string text)
    {
        text = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return text.Length <= 40 ? text : text[..37] + "...";
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
