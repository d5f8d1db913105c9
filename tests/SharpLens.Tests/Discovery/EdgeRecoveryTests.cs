using SharpLens.Circuits;

namespace SharpLens.Tests.Discovery;

/// <summary>Planted-edge recovery metrics (ROC AUC as the ACDC paper computes it, precision/recall at the planted size)
/// on score sets whose answers are counted by hand.</summary>
public class EdgeRecoveryTests
{
    // A 1-layer, 1-head graph: upstream input, a0.h0, m0; downstream a0.h0<q|k|v>, m0, logits: 3 + 2 + 3 = 8 edges.
    private static readonly CircuitGraph Graph = new(1, 1, 4);

    private static EdgeScores Scores(params (string Edge, float Score)[] scores)
    {
        var m = new float[Graph.NForward * Graph.NBackward];
        foreach (var (name, s) in scores) { var e = Graph.Edge(name); m[e.Parent.Index * Graph.NBackward + e.Child.Index] = s; }
        return new EdgeScores(Graph, m, "test");
    }

    [Fact]
    public void TheGraphHasTheEdgesTheseTestsCount()
    {
        Assert.Equal(["input->a0.h0<q>", "input->a0.h0<k>", "input->a0.h0<v>", "input->m0", "a0.h0->m0", "input->logits", "a0.h0->logits", "m0->logits"],
            Graph.Edges.Select(e => e.Name));
    }

    [Fact]
    public void APerfectRankingHasAucOneAndFullPrecision()
    {
        var truth = new PlantedEdges(Graph, ["input->a0.h0<v>", "a0.h0->logits"]);
        var r = EdgeRecovery.OfScores(Scores(("input->a0.h0<v>", -3), ("a0.h0->logits", 2), ("m0->logits", 1), ("input->m0", 0.5f)), truth);
        Assert.Equal(1.0, r.Auc, 12);
        Assert.Equal(1.0, r.AtPlantedSize.Precision);
        Assert.Equal(1.0, r.AtPlantedSize.Recall);
        Assert.Equal([("input->a0.h0<v>", 1), ("a0.h0->logits", 2)], r.PlantedRanks);
    }

    [Fact]
    public void AucIsTheShareOfPlantedNegativePairsRankedRightWithTiesCountedAgainst()
    {
        // planted: v (|s| 3) and a0.h0->logits (|s| 1); negatives: m0->logits 2, input->m0 1 (tie), four others 0.
        var truth = new PlantedEdges(Graph, ["input->a0.h0<v>", "a0.h0->logits"]);
        var r = EdgeRecovery.OfScores(Scores(("input->a0.h0<v>", 3), ("a0.h0->logits", 1), ("m0->logits", -2), ("input->m0", 1)), truth);
        // pairs (planted, negative) = 2 x 6 = 12. v beats all 6. a0.h0->logits beats the 4 zeros, loses to m0->logits,
        // ties input->m0 (counted as lost): 10 / 12.
        Assert.Equal(10.0 / 12, r.Auc, 12);
        // pessimistic ranks: v first; a0.h0->logits behind v, m0->logits and the tied input->m0
        Assert.Equal([("input->a0.h0<v>", 1), ("a0.h0->logits", 4)], r.PlantedRanks);
        // top-2: only v is planted
        Assert.Equal(0.5, r.AtPlantedSize.Precision);
        Assert.Equal(0.5, r.AtPlantedSize.Recall);
        Assert.Equal(new RocPoint(0, 0), r.Roc[0]);
        Assert.Equal(new RocPoint(1, 1), r.Roc[^1]);
    }

    [Fact]
    public void PartialEdgesCountNeitherWay()
    {
        var scores = Scores(("input->a0.h0<v>", 3), ("m0->logits", 5), ("a0.h0->logits", 1));
        var plain = EdgeRecovery.OfScores(scores, new PlantedEdges(Graph, ["input->a0.h0<v>"]));
        Assert.Equal(6.0 / 7, plain.Auc, 12);               // loses to m0->logits only
        var partial = EdgeRecovery.OfScores(scores, new PlantedEdges(Graph, ["input->a0.h0<v>"], ["m0->logits"]));
        Assert.Equal(1.0, partial.Auc, 12);                 // m0->logits is neither positive nor negative
        Assert.Equal(1, partial.PlantedRanks![0].Rank);
        var circuit = new Circuit(Graph, Graph.Edges.Select(e => e.Name is "input->a0.h0<v>" or "m0->logits" or "input->m0").ToArray());
        var set = EdgeRecovery.Measure(circuit, new PlantedEdges(Graph, ["input->a0.h0<v>"], ["m0->logits"]));
        Assert.Equal((3, 1, 1), (set.Recovered, set.TruePositives, set.FalsePositives));
        Assert.Equal(0.5, set.Precision);
        Assert.Equal(1.0 / 6, set.FalsePositiveRate, 12);
    }

    [Fact]
    public void PessimisticAucMatchesTheAcdcPapersExamples()
    {
        // The assertions next to ACDC's pessimistic_auc.
        Assert.Equal(0.0, EdgeRecovery.PessimisticAuc([new(0, 0), new(1, 1)]));
        Assert.Equal(0.25, EdgeRecovery.PessimisticAuc([new(0, 0), new(0.5, 0.5), new(1, 1)]));
        Assert.Equal(0.25 * 0.75, EdgeRecovery.PessimisticAuc([new(0, 0), new(0.25, 0.25), new(1, 1)]));
        Assert.Equal(5.0 / 16, EdgeRecovery.PessimisticAuc([new(0, 0), new(0.25, 0.25), new(0.5, 0.5), new(1, 1)]));
        Assert.Equal(4.0 / 16, EdgeRecovery.PessimisticAuc([new(0, 0), new(0.25, 0.25), new(0.75, 0.5), new(1, 1)]));
    }

    [Fact]
    public void SetMethodsGetOnePointPerSetAndTheEndpoints()
    {
        var truth = new PlantedEdges(Graph, ["input->a0.h0<v>", "a0.h0->logits"]);
        Circuit Set(params string[] names) => new(Graph, Graph.Edges.Select(e => names.Contains(e.Name)).ToArray());
        // a strict threshold finds one planted edge, a loose one both plus one negative
        var r = EdgeRecovery.OfSets("ACDC", [Set("a0.h0->logits"), Set("a0.h0->logits", "input->a0.h0<v>", "m0->logits")], truth);
        // points (0, 0), (0, 0.5), (1/6, 1), (1, 1): area = 1·0.5 + (5/6)·0.5
        Assert.Equal(0.5 + 5.0 / 12, r.Auc, 12);
        Assert.Null(r.PlantedRanks);
        Assert.Equal(2, r.AtPlantedSize.TruePositives);     // both sets are one edge from |planted| = 2; the better recall wins
        Assert.Equal(3, r.AtPlantedSize.Recovered);
    }

    [Fact]
    public void BadGroundTruthIsAOneLineError()
    {
        Assert.Contains("a head's input needs <q>, <k> or <v>", Assert.Throws<InvalidInputException>(() => new PlantedEdges(Graph, ["input->a0.h0"])).Message);
        Assert.Contains("both planted and partial", Assert.Throws<InvalidInputException>(() => new PlantedEdges(Graph, ["m0->logits"], ["m0->logits"])).Message);
        Assert.Contains("at least one edge", Assert.Throws<InvalidInputException>(() => new PlantedEdges(Graph, [])).Message);
        var other = new CircuitGraph(2, 1, 4);
        var scores = new EdgeScores(other, new float[other.NForward * other.NBackward], "x");
        Assert.Contains("2-layer", Assert.Throws<InvalidInputException>(() => EdgeRecovery.OfScores(scores, new PlantedEdges(Graph, ["m0->logits"]))).Message);
    }
}
