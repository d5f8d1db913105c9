namespace SharpLens.Circuits;

/// <summary>
/// A ground-truth edge set over a <see cref="CircuitGraph"/>: the <see cref="Planted"/> edges (the positives) and,
/// optionally, edges that carry the mechanism only in part (<see cref="Partial"/>). Partial edges count neither for nor
/// against a method: they are left out of both the positives and the negatives (ranks, ROC, precision), because a method
/// that finds them has found something real and one that misses them has missed nothing the ground truth requires.
/// Every other edge of the graph is a negative.
/// </summary>
public sealed class PlantedEdges
{
    private readonly sbyte[] _label;     // per edge: 1 planted, 0 negative, -1 partial (ignored)

    /// <summary>The ground truth: <paramref name="planted"/> and <paramref name="partial"/> edge names (EAP-IG names,
    /// <c>a0.h1->a1.h2&lt;k&gt;</c>); a name the graph lacks, or an edge in both sets, is a one-line error.</summary>
    public PlantedEdges(CircuitGraph graph, IEnumerable<string> planted, IEnumerable<string>? partial = null)
    {
        Graph = graph;
        _label = new sbyte[graph.Edges.Count];
        var p = planted.Select(n => graph.Edge(n.Trim())).Distinct().ToList();
        if (p.Count == 0) throw new InvalidInputException("a planted edge set needs at least one edge");
        foreach (var e in p) _label[graph.EdgeIndexByName[e.Name]] = 1;
        var q = (partial ?? []).Select(n => graph.Edge(n.Trim())).Distinct().ToList();
        foreach (var e in q)
        {
            int i = graph.EdgeIndexByName[e.Name];
            if (_label[i] == 1) throw new InvalidInputException($"edge '{e.Name}' is both planted and partial: list it once");
            _label[i] = -1;
        }
        Planted = p;
        Partial = q;
        if (Negatives == 0) throw new InvalidInputException("the planted and partial edges cover the whole graph: nothing is left to tell them from");
    }

    /// <summary>The graph.</summary>
    public CircuitGraph Graph { get; }
    /// <summary>The positives.</summary>
    public IReadOnlyList<Edge> Planted { get; }
    /// <summary>Edges that carry the mechanism only in part: ignored by every measure.</summary>
    public IReadOnlyList<Edge> Partial { get; }
    /// <summary>Number of negatives: edges neither planted nor partial.</summary>
    public int Negatives => _label.Count(l => l == 0);
    /// <summary>True for a planted edge (by <see cref="CircuitGraph.Edges"/> index).</summary>
    public bool IsPlanted(int edge) => _label[edge] == 1;
    /// <summary>True for a negative edge (by <see cref="CircuitGraph.Edges"/> index).</summary>
    public bool IsNegative(int edge) => _label[edge] == 0;
}

/// <summary>One point of a ROC curve over edges.</summary>
/// <param name="FalsePositiveRate">negatives recovered / all negatives</param>
/// <param name="TruePositiveRate">planted edges recovered / all planted edges (the recall)</param>
public readonly record struct RocPoint(double FalsePositiveRate, double TruePositiveRate);

/// <summary>How well one recovered edge set matches the ground truth.</summary>
/// <param name="Recovered">edges in the set, partial ones included</param>
/// <param name="TruePositives">planted edges in the set</param>
/// <param name="FalsePositives">negatives in the set</param>
/// <param name="Precision">TP / (TP + FP), 1 for an empty set (ACDC's convention)</param>
/// <param name="Recall">TP / planted edges</param>
/// <param name="FalsePositiveRate">FP / negatives</param>
public sealed record RecoveredSet(int Recovered, int TruePositives, int FalsePositives, double Precision, double Recall, double FalsePositiveRate);

/// <summary>
/// A method's recovery of a planted edge set, as the ACDC paper (Conmy et al. 2023) reports it: the ROC curve over edges
/// (true-positive rate against false-positive rate as the method admits more edges) and its area, plus precision and
/// recall at the ground truth's size.
/// </summary>
/// <param name="Method">how the edges were scored or chosen (EAP, EAP-IG, ACDC, ...)</param>
/// <param name="Auc">ACDC's "pessimistic" area under the ROC staircase, Σ (1 − FPR_i)·(TPR_i − TPR_{i−1}) over the points
/// sorted by FPR; for a score ranking it is the chance that a planted edge scores strictly above a negative (ties count
/// as failures), 1 when every planted edge outranks every negative</param>
/// <param name="AtPlantedSize">the k = |planted| highest-|score| edges (precision = recall there), or for a method that
/// only returns sets, its set closest to k edges</param>
/// <param name="PlantedRanks">each planted edge and its rank by |score| (1 = first); ties with negatives rank behind
/// them (pessimistic); null for set-only methods</param>
/// <param name="Roc">the ROC points from (0, 0) to (1, 1)</param>
public sealed record EdgeRecovery(string Method, double Auc, RecoveredSet AtPlantedSize, IReadOnlyList<(string Edge, int Rank)>? PlantedRanks,
    IReadOnlyList<RocPoint> Roc)
{
    /// <summary>Recovery by a score ranking (EAP, EAP-IG, exact edge scores): edges ranked by |score|, every distinct
    /// |score| a threshold of the ROC.</summary>
    public static EdgeRecovery OfScores(EdgeScores scores, PlantedEdges truth)
    {
        RequireSameGraph(scores.Graph, truth);
        var graph = truth.Graph;
        var magnitude = new double[graph.Edges.Count];
        for (int i = 0; i < magnitude.Length; i++)
        {
            float s = scores[graph.Edges[i]];
            if (!float.IsFinite(s)) throw new InvalidInputException($"edge '{graph.Edges[i].Name}' has a non-finite {scores.Method} score ({s}): recovery needs finite scores");
            magnitude[i] = Math.Abs(s);
        }
        var scored = Enumerable.Range(0, magnitude.Length).Where(i => !IsPartial(truth, i)).ToArray();
        int positives = truth.Planted.Count, negatives = truth.Negatives;
        // Pessimistic rank: every edge above, and every negative tied with it, comes first.
        var ranks = new List<(string, int)>();
        foreach (var e in truth.Planted)
        {
            int i = graph.EdgeIndexByName[e.Name];
            int ahead = scored.Count(j => j != i && (magnitude[j] > magnitude[i] || (magnitude[j] == magnitude[i] && truth.IsNegative(j))));
            ranks.Add((e.Name, ahead + 1));
        }
        int k = positives;
        int hits = ranks.Count(r => r.Item2 <= k);
        var atK = new RecoveredSet(k, hits, k - hits, (double)hits / k, (double)hits / positives, (double)(k - hits) / negatives);

        // ROC: one point per distinct |score|, admitting every edge at or above it.
        var roc = new List<RocPoint> { new(0, 0) };
        int tp = 0, fp = 0;
        foreach (var group in scored.GroupBy(i => magnitude[i]).OrderByDescending(g => g.Key))
        {
            foreach (int i in group) { if (truth.IsPlanted(i)) tp++; else fp++; }
            roc.Add(new RocPoint((double)fp / negatives, (double)tp / positives));
        }
        return new EdgeRecovery(scores.Method, PessimisticAuc(roc), atK, ranks, roc);
    }

    /// <summary>
    /// Recovery by a method that returns edge sets (ACDC at several thresholds): one ROC point per set, with (0, 0) and
    /// (1, 1) added as the ACDC paper does, a point whose TPR falls below an earlier point's dropped (the staircase is
    /// monotone), and the set whose size is closest to |planted| as <see cref="AtPlantedSize"/>.
    /// </summary>
    public static EdgeRecovery OfSets(string method, IReadOnlyList<Circuit> sets, PlantedEdges truth)
    {
        if (sets.Count == 0) throw new InvalidInputException($"{method}: recovery needs at least one recovered edge set");
        foreach (var c in sets) RequireSameGraph(c.Graph, truth);
        var measured = sets.Select(c => Measure(c, truth)).ToList();
        var roc = measured.Select(m => new RocPoint(m.FalsePositiveRate, m.Recall)).Append(new RocPoint(0, 0)).Append(new RocPoint(1, 1)).ToList();
        int k = truth.Planted.Count;
        var closest = measured.OrderBy(m => Math.Abs(m.TruePositives + m.FalsePositives - k)).ThenByDescending(m => m.Recall).First();
        return new EdgeRecovery(method, PessimisticAuc(roc), closest, null, Staircase(roc));
    }

    /// <summary>Precision, recall and false-positive rate of one recovered edge set (partial edges count neither way).</summary>
    public static RecoveredSet Measure(Circuit circuit, PlantedEdges truth)
    {
        RequireSameGraph(circuit.Graph, truth);
        int tp = 0, fp = 0, n = 0;
        for (int i = 0; i < circuit.EdgeFlags.Count; i++)
        {
            if (!circuit.EdgeFlags[i]) continue;
            n++;
            if (truth.IsPlanted(i)) tp++;
            else if (truth.IsNegative(i)) fp++;
        }
        return new RecoveredSet(n, tp, fp, tp + fp == 0 ? 1 : (double)tp / (tp + fp), (double)tp / truth.Planted.Count, (double)fp / truth.Negatives);
    }

    /// <summary>
    /// ACDC's <c>pessimistic_auc</c>: the points sorted by FPR (then TPR), each rise in TPR counted at the FPR where it
    /// happens, Σ (1 − FPR_i)·(TPR_i − TPR_{i−1}); points whose TPR falls below an earlier one's are dropped first.
    /// </summary>
    public static double PessimisticAuc(IEnumerable<RocPoint> points)
    {
        var stairs = Staircase(points);
        double area = 0;
        for (int i = 1; i < stairs.Count; i++)
            area += (1 - stairs[i].FalsePositiveRate) * (stairs[i].TruePositiveRate - stairs[i - 1].TruePositiveRate);
        return area;
    }

    private static List<RocPoint> Staircase(IEnumerable<RocPoint> points)
    {
        var sorted = points.OrderBy(p => p.FalsePositiveRate).ThenBy(p => p.TruePositiveRate).ToList();
        var kept = new List<RocPoint>();
        foreach (var p in sorted)
            if (kept.Count == 0 || p.TruePositiveRate >= kept[^1].TruePositiveRate) kept.Add(p);
        return kept;
    }

    private static bool IsPartial(PlantedEdges truth, int edge) => !truth.IsPlanted(edge) && !truth.IsNegative(edge);

    private static void RequireSameGraph(CircuitGraph graph, PlantedEdges truth)
    {
        if (graph.NLayers != truth.Graph.NLayers || graph.NHeads != truth.Graph.NHeads)
            throw new InvalidInputException($"the edges come from a {graph.NLayers}-layer, {graph.NHeads}-head graph but the planted set is over a {truth.Graph.NLayers}-layer, {truth.Graph.NHeads}-head one");
    }
}
