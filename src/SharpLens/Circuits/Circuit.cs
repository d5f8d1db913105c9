namespace SharpLens.Circuits;

/// <summary>
/// A subgraph of a <see cref="CircuitGraph"/>: which edges and nodes are in the circuit (EAP-IG's in_graph), and the
/// edge scores it was chosen by. Everything outside the circuit carries corrupted values when it is evaluated.
/// </summary>
public sealed class Circuit
{
    private readonly bool[] _edges;

    /// <summary>A circuit over <paramref name="graph"/> with the given edges (by <see cref="CircuitGraph.Edges"/> index).</summary>
    public Circuit(CircuitGraph graph, bool[] edgesInGraph, EdgeScores? scores = null)
    {
        if (edgesInGraph.Length != graph.Edges.Count)
            throw new InvalidInputException($"a circuit over this graph needs {graph.Edges.Count} edge flags, got {edgesInGraph.Length}");
        Graph = graph; _edges = edgesInGraph; Scores = scores;
    }

    /// <summary>The graph.</summary>
    public CircuitGraph Graph { get; }
    /// <summary>Scores of every edge (null when the circuit was given without scores).</summary>
    public EdgeScores? Scores { get; }
    /// <summary>in_graph per edge, in <see cref="CircuitGraph.Edges"/> order.</summary>
    public IReadOnlyList<bool> EdgeFlags => _edges;
    /// <summary>Number of edges in the circuit.</summary>
    public int EdgeCount => _edges.Count(e => e);
    /// <summary>The edges in the circuit.</summary>
    public IEnumerable<Edge> Edges => Graph.Edges.Where((_, i) => _edges[i]);
    /// <summary>True when the edge is in the circuit.</summary>
    public bool Contains(Edge edge) => _edges[Graph.EdgeIndexByName[edge.Name]];

    /// <summary>
    /// Node names in the circuit: <c>logits</c> (always, as EAP-IG), plus every node that is a parent or child of an
    /// edge in the circuit.
    /// </summary>
    public IReadOnlySet<string> Nodes
    {
        get
        {
            var nodes = new HashSet<string>(StringComparer.Ordinal) { "logits" };
            foreach (var e in Edges) { nodes.Add(e.Parent.Name); nodes.Add(e.Child.Name); }
            return nodes;
        }
    }

    /// <summary>
    /// The circuit's attention heads and MLPs: <see cref="Nodes"/> without <c>input</c> and <c>logits</c>, which every
    /// circuit with an edge has, so that comparing circuits by their nodes (a Jaccard overlap) compares what differs.
    /// </summary>
    public IReadOnlySet<string> ComponentNodes => Nodes.Where(n => n is not ("input" or "logits")).ToHashSet(StringComparer.Ordinal);

    /// <summary>[n_backward, n_forward] weights for <see cref="EdgePatchedForward"/>: 1 for every edge NOT in the circuit.</summary>
    public float[] CorruptedWeights()
    {
        var w = new float[Graph.NBackward * Graph.NForward];
        for (int i = 0; i < _edges.Length; i++)
            if (!_edges[i]) w[Graph.Edges[i].Child.Index * Graph.NForward + Graph.Edges[i].Parent.Index] = 1f;
        return w;
    }

    /// <summary>The <paramref name="count"/> edges with the largest |score| (EAP-IG's apply_topn, absolute), then pruned.</summary>
    public static Circuit TopN(EdgeScores scores, int count, bool prune = true)
    {
        RequireCount(scores.Graph, count);
        var flags = new bool[scores.Graph.Edges.Count];
        var order = Enumerable.Range(0, flags.Length).OrderByDescending(i => MathF.Abs(scores[scores.Graph.Edges[i]])).ThenBy(i => i);
        foreach (int i in order.Take(count)) flags[i] = true;
        var circuit = new Circuit(scores.Graph, flags, scores);
        return prune ? circuit.Pruned() : circuit;
    }

    /// <summary>
    /// EAP-IG's apply_greedy: start from the logits; repeatedly add the highest-|score| edge whose child is already
    /// in the circuit (its parent joins the circuit and its incoming edges become candidates), until
    /// <paramref name="count"/> edges; then prune.
    /// </summary>
    public static Circuit Greedy(EdgeScores scores, int count, bool prune = true)
    {
        var graph = scores.Graph;
        RequireCount(graph, count);
        var flags = new bool[graph.Edges.Count];
        var byChild = ByChildNode(graph);
        var inGraph = new HashSet<string>(StringComparer.Ordinal) { "logits" };
        var queue = new PriorityQueue<int, (float, int)>();
        void AddCandidates(string node)
        {
            if (!byChild.TryGetValue(node, out var list)) return;
            foreach (int i in list) queue.Enqueue(i, (-MathF.Abs(scores[graph.Edges[i]]), i));
        }
        AddCandidates("logits");
        int added = 0;
        while (added < count && queue.TryDequeue(out int edge, out _))
        {
            if (flags[edge]) continue;
            flags[edge] = true; added++;
            string parent = graph.Edges[edge].Parent.Name;
            if (inGraph.Add(parent)) AddCandidates(parent);
        }
        var circuit = new Circuit(graph, flags, scores);
        return prune ? circuit.Pruned() : circuit;
    }

    /// <summary>
    /// EAP-IG's prune: drop edges touching a node with no path to the logits or no path from the input through edges
    /// of the circuit, repeated until nothing changes. A dead branch adds edges to the count without carrying anything
    /// from the input to the output.
    /// </summary>
    public Circuit Pruned()
    {
        var flags = (bool[])_edges.Clone();
        while (true)
        {
            var reachesLogits = new HashSet<string>(StringComparer.Ordinal) { "logits" };
            var fromInput = new HashSet<string>(StringComparer.Ordinal) { "input" };
            // Edges are listed by child in forward order, so one backward sweep finds everything that reaches the logits
            // and one forward sweep everything reachable from the input.
            for (int i = flags.Length - 1; i >= 0; i--)
                if (flags[i] && reachesLogits.Contains(Graph.Edges[i].Child.Name)) reachesLogits.Add(Graph.Edges[i].Parent.Name);
            for (int i = 0; i < flags.Length; i++)
                if (flags[i] && fromInput.Contains(Graph.Edges[i].Parent.Name)) fromInput.Add(Graph.Edges[i].Child.Name);
            bool changed = false;
            for (int i = 0; i < flags.Length; i++)
            {
                var e = Graph.Edges[i];
                if (flags[i] && !(reachesLogits.Contains(e.Child.Name) && fromInput.Contains(e.Parent.Name)))
                { flags[i] = false; changed = true; }
            }
            if (!changed) return new Circuit(Graph, flags, Scores);
        }
    }

    private static Dictionary<string, List<int>> ByChildNode(CircuitGraph graph)
    {
        var map = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Edges.Count; i++)
        {
            string child = graph.Edges[i].Child.Name;
            if (!map.TryGetValue(child, out var list)) map[child] = list = [];
            list.Add(i);
        }
        return map;
    }

    private static void RequireCount(CircuitGraph graph, int count)
    {
        if (count < 1 || count > graph.Edges.Count)
            throw new InvalidInputException($"a circuit needs between 1 and {graph.Edges.Count} edges for this model, got {count}");
    }
}
