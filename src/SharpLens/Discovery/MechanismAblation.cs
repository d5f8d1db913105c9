using SharpLens.Circuits;

namespace SharpLens.Discovery;

/// <summary>
/// Resample ablation of heads and edges on a <see cref="CircuitEvaluator"/>'s prompts: an ablated edge carries its
/// parent's output from the corrupted prompt, an ablated head has every outgoing edge ablated (its output replaced by its
/// corrupted output everywhere). Each result is the share of the clean − corrupted metric gap that survives,
/// (mean ablated − mean corrupted) / (mean clean − mean corrupted): 1 = the task is intact, 0 = it collapsed to the
/// corrupted run.
/// </summary>
public static class MechanismAblation
{
    /// <summary>The surviving share of the gap with <paramref name="edges"/> ablated.</summary>
    public static double Edges(CircuitEvaluator evaluator, IEnumerable<Edge> edges)
    {
        var graph = evaluator.Graph;
        var weights = new float[graph.NBackward * graph.NForward];
        foreach (var e in edges) weights[e.Child.Index * graph.NForward + e.Parent.Index] = 1f;
        return Share(evaluator, evaluator.PerPrompt(weights));
    }

    /// <summary>The surviving share of the gap with every outgoing edge of <paramref name="heads"/> ablated.</summary>
    public static double Heads(CircuitEvaluator evaluator, IEnumerable<HeadId> heads)
    {
        var graph = evaluator.Graph;
        var parents = heads.Select(h => graph.HeadForward(h.Layer, h.Head)).ToHashSet();
        return Edges(evaluator, graph.Edges.Where(e => parents.Contains(e.Parent.Index)));
    }

    /// <summary>Every head ablated alone: [layer, head] surviving shares.</summary>
    public static double[,] EachHead(CircuitEvaluator evaluator)
    {
        var graph = evaluator.Graph;
        var shares = new double[graph.NLayers, graph.NHeads];
        for (int l = 0; l < graph.NLayers; l++)
            for (int h = 0; h < graph.NHeads; h++) shares[l, h] = Heads(evaluator, [new HeadId(l, h)]);
        return shares;
    }

    /// <summary>(mean values − mean corrupted) / (mean clean − mean corrupted); NaN when clean and corrupted agree.</summary>
    public static double Share(CircuitEvaluator evaluator, float[] values)
    {
        double clean = evaluator.CleanPerPrompt.Average(), corrupted = evaluator.CorruptedPerPrompt.Average();
        return clean == corrupted ? double.NaN : (values.Average() - corrupted) / (clean - corrupted);
    }
}
