namespace SharpLens.Circuits;

/// <summary>One edge ACDC tried to remove.</summary>
/// <param name="Edge">The edge (EAP-IG name).</param>
/// <param name="Before">Mean metric of the current graph before the attempt.</param>
/// <param name="After">Mean metric with the edge also patched to corrupted.</param>
/// <param name="Removed">True when |After − Before| was below the threshold, so the edge stayed out.</param>
public sealed record AcdcStep(string Edge, float Before, float After, bool Removed);

/// <summary>ACDC's outcome.</summary>
/// <param name="Circuit">The edges ACDC kept, pruned (nodes without a path from the input or to the logits dropped).</param>
/// <param name="Threshold">The threshold used.</param>
/// <param name="Metric">Mean metric of the final graph (every removed edge corrupted).</param>
/// <param name="Steps">Every attempted removal, in visiting order (one exact edge-patched forward each).</param>
/// <remarks>The circuit's scores (<see cref="Circuit.Scores"/>, method <c>ACDC</c>) are each attempted edge's effect
/// |After − Before|; edges never tried (inputs of skipped nodes) score 0.</remarks>
public sealed record AcdcResult(Circuit Circuit, float Threshold, float Metric, IReadOnlyList<AcdcStep> Steps);

/// <summary>
/// ACDC (Conmy et al. 2023, "Towards Automated Circuit Discovery"): iterative exact pruning. It starts from the full
/// graph (every edge clean) and visits the downstream nodes from the logits backwards — logits, then for each layer from
/// the last: its MLP input, then its heads' v, k and q inputs (highest head first). At each node it tries the incoming
/// edges one at a time, latest parent first: the edge is patched to its corrupted value and kept out when the mean
/// metric moves by less than the threshold, |new − current| &lt; threshold (the rule; ACDC's code uses the signed
/// increase of KL). A node none of whose outgoing edges survived is not visited (its inputs no longer matter), as in
/// ACDC. Every attempt is one exact run of <see cref="EdgePatchedForward"/>, recomputed only from the visited node's
/// layer on (earlier layers are unchanged, so their clean outputs are reused).
/// </summary>
public static class Acdc
{
    /// <summary>Runs ACDC on the evaluator's prompts and metric (mean over prompts).</summary>
    /// <param name="evaluator">holds the model, the clean and corrupted runs and the metric (logit difference or KL).</param>
    /// <param name="threshold">edges whose removal moves the mean metric by less than this are removed (&gt;= 0).</param>
    /// <param name="progress">fraction of downstream nodes visited, 0..1.</param>
    public static AcdcResult Run(CircuitEvaluator evaluator, float threshold, IProgress<double>? progress = null)
    {
        if (!(threshold >= 0) || float.IsInfinity(threshold))
            throw new InvalidInputException($"--threshold must be a finite number >= 0, got {threshold}");
        var graph = evaluator.Graph;
        int nF = graph.NForward;
        var weights = new float[graph.NBackward * nF];            // 1 = edge removed (patched to corrupted)
        // Outgoing edges still in the graph, per upstream node: a node left with none is skipped.
        var outgoing = new int[nF];
        foreach (var e in graph.Edges) outgoing[e.Parent.Index]++;
        float current = evaluator.CleanPerPrompt.Average();
        var steps = new List<AcdcStep>();
        var order = VisitingOrder(graph);
        for (int i = 0; i < order.Count; i++)
        {
            var child = order[i];
            if (!child.IsLogits && outgoing[UpstreamOf(graph, child)] == 0) continue;
            for (int u = child.UpstreamCount - 1; u >= 0; u--)
            {
                int at = child.Index * nF + u;
                weights[at] = 1f;
                float after = evaluator.PerPrompt(weights).Average();
                bool removed = MathF.Abs(after - current) < threshold;
                steps.Add(new AcdcStep(new Edge(graph.Upstream[u], child).Name, current, after, removed));
                if (removed) { current = after; outgoing[u]--; }
                else weights[at] = 0f;
            }
            progress?.Report((double)(i + 1) / order.Count);
        }
        var flags = new bool[graph.Edges.Count];
        for (int e = 0; e < flags.Length; e++)
            flags[e] = weights[graph.Edges[e].Child.Index * nF + graph.Edges[e].Parent.Index] == 0f;
        var effects = new float[nF * graph.NBackward];
        foreach (var step in steps)
        {
            var e = graph.Edge(step.Edge);
            effects[e.Parent.Index * graph.NBackward + e.Child.Index] = MathF.Abs(step.After - step.Before);
        }
        return new AcdcResult(new Circuit(graph, flags, new EdgeScores(graph, effects, "ACDC")).Pruned(), threshold, current, steps);
    }

    /// <summary>Downstream nodes in ACDC's visiting order: logits, then per layer from the last its MLP and its heads'
    /// v, k, q inputs, highest head first (reverse backward index).</summary>
    public static IReadOnlyList<DownstreamNode> VisitingOrder(CircuitGraph graph) => graph.Downstream.Reverse().ToList();

    // The upstream node whose computation reads this downstream input (a head's q/k/v → the head's output; MLP → MLP).
    private static int UpstreamOf(CircuitGraph graph, DownstreamNode node) =>
        node.IsHead ? graph.HeadForward(node.Layer, node.Head) : graph.MlpForward(node.Layer);
}
