namespace SharpLens.Circuits;

/// <summary>
/// One score per edge of a <see cref="CircuitGraph"/>, held as EAP-IG holds them: a [n_forward, n_backward] matrix
/// (row = parent's forward index, column = child's backward index). Entries that are not edges are zero.
/// </summary>
public sealed class EdgeScores
{
    /// <summary>Wraps <paramref name="matrix"/> [n_forward, n_backward]; non-edge entries are cleared.</summary>
    public EdgeScores(CircuitGraph graph, float[] matrix, string method)
    {
        if (matrix.Length != graph.NForward * graph.NBackward)
            throw new Tensors.ShapeMismatchException($"edge scores: expected [{graph.NForward}, {graph.NBackward}], got {matrix.Length} values");
        Graph = graph; Matrix = matrix; Method = method;
        foreach (var child in graph.Downstream)
            for (int u = child.UpstreamCount; u < graph.NForward; u++) matrix[u * graph.NBackward + child.Index] = 0f;
    }

    /// <summary>The graph scored.</summary>
    public CircuitGraph Graph { get; }
    /// <summary>[n_forward, n_backward]</summary>
    public float[] Matrix { get; }
    /// <summary>How the scores were computed (<c>EAP</c>, <c>EAP-IG</c>, <c>exact</c>).</summary>
    public string Method { get; }

    /// <summary>The score of an edge.</summary>
    public float this[Edge edge] => Matrix[edge.Parent.Index * Graph.NBackward + edge.Child.Index];

    /// <summary>The score of the edge called <paramref name="name"/> (EAP-IG name).</summary>
    public float this[string name] => this[Graph.Edge(name)];

    /// <summary>Scores in <see cref="CircuitGraph.Edges"/> order.</summary>
    public float[] ByEdge() => Graph.Edges.Select(e => this[e]).ToArray();

    /// <summary>The <paramref name="count"/> edges with the largest |score| (ties by edge order).</summary>
    public IReadOnlyList<(Edge Edge, float Score)> Top(int count) => Graph.Edges
        .Select(e => (Edge: e, Score: this[e])).OrderByDescending(p => MathF.Abs(p.Score)).Take(count).ToList();
}
