using SharpLens.Circuits;

namespace SharpLens.Tests.Circuits;

/// <summary>Top-n and greedy selection, pruning, faithfulness and the EAP-IG graph JSON.</summary>
public class CircuitSelectionTests
{
    private static EdgeScores RandomScores(CircuitGraph g, int seed)
    {
        var rng = new Random(seed);
        var m = new float[g.NForward * g.NBackward];
        for (int i = 0; i < m.Length; i++) m[i] = (float)(rng.NextDouble() * 2 - 1);
        return new EdgeScores(g, m, "test");
    }

    [Fact]
    public void TopNTakesTheLargestAbsoluteScores()
    {
        var g = new CircuitGraph(3, 4, 16);
        var scores = RandomScores(g, 1);
        var circuit = Circuit.TopN(scores, 40, prune: false);
        Assert.Equal(40, circuit.EdgeCount);
        float smallestIn = circuit.Edges.Min(e => MathF.Abs(scores[e]));
        float largestOut = g.Edges.Where(e => !circuit.Contains(e)).Max(e => MathF.Abs(scores[e]));
        Assert.True(smallestIn >= largestOut);
    }

    [Fact]
    public void GreedyGrowsAConnectedCircuitFromTheLogits()
    {
        var g = new CircuitGraph(4, 3, 16);
        var scores = RandomScores(g, 2);
        var circuit = Circuit.Greedy(scores, 30, prune: false);
        Assert.Equal(30, circuit.EdgeCount);
        var parents = circuit.Edges.Select(e => e.Parent.Name).ToHashSet();
        foreach (var e in circuit.Edges) Assert.True(e.Child.IsLogits || parents.Contains(e.Child.Name), $"{e.Name} is not connected to the logits");
        // The first edge is the best edge into the logits.
        var bestIntoLogits = g.Edges.Where(e => e.Child.IsLogits).MaxBy(e => MathF.Abs(scores[e]))!;
        Assert.True(circuit.Contains(bestIntoLogits));
    }

    [Fact]
    public void PruningDropsEdgesWithoutAPathFromInputOrToLogits()
    {
        var g = new CircuitGraph(2, 2, 8);
        var flags = new bool[g.Edges.Count];
        foreach (var name in new[] { "input->a0.h0<v>", "a0.h0->logits", "a0.h1->m1", "input->m0" })
            flags[g.EdgeIndexByName[name]] = true;
        var pruned = new Circuit(g, flags).Pruned();
        Assert.Equal(["a0.h0->logits", "input->a0.h0<v>"], pruned.Edges.Select(e => e.Name).Order());
        Assert.Equal(["a0.h0", "input", "logits"], pruned.Nodes.Order());
    }

    [Fact]
    public void JsonRoundTripsInEapIgFormat()
    {
        var g = new CircuitGraph(3, 4, 16);
        var circuit = Circuit.Greedy(RandomScores(g, 3), 25);
        string path = Path.Combine(Path.GetTempPath(), $"circuit-{Guid.NewGuid():N}.json");
        try
        {
            CircuitJson.Write(circuit, path);
            using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path)))
            {
                var root = doc.RootElement;
                Assert.Equal(3, root.GetProperty("cfg").GetProperty("n_layers").GetInt32());
                Assert.False(root.GetProperty("cfg").GetProperty("parallel_attn_mlp").GetBoolean());
                Assert.True(root.GetProperty("nodes").GetProperty("logits").GetProperty("in_graph").GetBoolean());
                Assert.Equal(g.Edges.Count, root.GetProperty("edges").EnumerateObject().Count());
                var e = root.GetProperty("edges").GetProperty(g.Edges[5].Name);
                Assert.Equal(circuit.Scores![g.Edges[5]], e.GetProperty("score").GetSingle());
            }
            var back = CircuitJson.Read(path, g);
            Assert.Equal(circuit.EdgeFlags, back.EdgeFlags);
            Assert.Equal(circuit.Scores!.Matrix, back.Scores!.Matrix);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("{\"cfg\":{\"n_layers\":12,\"n_heads\":12,\"d_model\":768},\"nodes\":{},\"edges\":{}}", "12 layers x 12 heads")]
    [InlineData("{\"cfg\":{\"n_layers\":3,\"n_heads\":4,\"d_model\":16},\"nodes\":{},\"edges\":{\"a0.h7->logits\":{\"score\":1,\"in_graph\":true}}}", "head L0H7 does not exist")]
    [InlineData("{\"cfg\":{\"n_layers\":3,\"n_heads\":4,\"d_model\":16},\"nodes\":{\"a9.h0\":true},\"edges\":{}}", "head L9H0 does not exist")]
    [InlineData("{\"cfg\":{\"n_layers\":3,\"n_heads\":4,\"d_model\":16},\"nodes\":{},\"edges\":{\"q->logits\":{\"score\":1,\"in_graph\":true}}}", "unknown node 'q'")]
    [InlineData("{\"nodes\":{}}", "no \"cfg\"")]
    [InlineData("[1,", "not valid JSON")]
    public void ReadingRefusesFilesForOtherModelsOrWithUnknownNames(string json, string expected)
    {
        var g = new CircuitGraph(3, 4, 16);
        string path = Path.Combine(Path.GetTempPath(), $"circuit-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            var e = Assert.Throws<InvalidInputException>(() => CircuitJson.Read(path, g));
            Assert.Contains(expected, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReadingAcceptsNodeObjectsAndRefusesEmptyCircuitsWhenAsked()
    {
        var g = new CircuitGraph(3, 4, 16);
        string json = "{\"cfg\":{\"n_layers\":3,\"n_heads\":4,\"d_model\":16,\"parallel_attn_mlp\":false},\"nodes\":{\"logits\":{\"in_graph\":true}}," +
                      "\"edges\":{\"m2->logits\":{\"score\":0.5,\"in_graph\":false}}}";
        var circuit = CircuitJson.Parse(System.Text.Json.JsonDocument.Parse(json).RootElement, g, "c.json");
        Assert.Equal(0, circuit.EdgeCount);
        Assert.Equal(0.5f, circuit.Scores!["m2->logits"]);
        var e = Assert.Throws<InvalidInputException>(() => CircuitJson.RequireNonEmpty(circuit, "c.json"));
        Assert.Contains("empty circuit", e.Message);
    }

    [Fact]
    public void FaithfulnessIsOneForTheFullGraphAndZeroForNoEdges()
    {
        var (model, inputs) = CircuitTestModels.Fixture("tiny-b");
        var evaluator = new CircuitEvaluator(model, inputs);
        var g = evaluator.Graph;
        var full = evaluator.Faithfulness(new Circuit(g, Enumerable.Repeat(true, g.Edges.Count).ToArray()), resamples: 200);
        Assert.Equal(1f, full.Faithfulness, 4);
        var none = evaluator.Faithfulness(new Circuit(g, new bool[g.Edges.Count]), resamples: 200);
        Assert.Equal(0f, none.Faithfulness, 4);
        // A greedy EAP-IG circuit with more edges is at least as faithful here, and its CI brackets the estimate.
        var scores = EdgeAttribution.EapIg(model, inputs.Clean, inputs.Corrupted, inputs.Metric);
        var curve = evaluator.Curve(scores, [2, 8, g.Edges.Count], (s, n) => Circuit.Greedy(s, n), resamples: 200);
        Assert.Equal(1f, curve[^1].Faithfulness, 4);
        Assert.All(curve, r => Assert.True(r.Interval.Lower <= r.Faithfulness && r.Faithfulness <= r.Interval.Upper));
        Assert.True(curve[1].Faithfulness > curve[0].Faithfulness - 0.5f);
    }
}
