using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Statistics;
using SharpLens.Model;

namespace SharpLens.Circuits;

/// <summary>A circuit's faithfulness: (metric with only the circuit clean − corrupted) / (clean − corrupted).</summary>
/// <param name="Edges">Edges in the circuit.</param>
/// <param name="Faithfulness">Point estimate, from means over prompts.</param>
/// <param name="Interval">Bootstrap CI over prompts (prompts resampled jointly for the three runs).</param>
/// <param name="CircuitPerPrompt">Per-prompt metric of the circuit run [prompt].</param>
public sealed record FaithfulnessResult(int Edges, float Faithfulness, ConfidenceInterval Interval, float[] CircuitPerPrompt);

/// <summary>
/// Runs circuits exactly: every edge outside the circuit carries its parent's corrupted output (EAP-IG's
/// evaluate_graph with patching), everything in it runs clean. Holds the clean and corrupted runs so that many
/// circuits (a faithfulness curve) cost one edge-patched forward each.
/// </summary>
public sealed class CircuitEvaluator
{
    private readonly HookedTransformer _model;
    private readonly PatchingInputs _inputs;
    private readonly NodeOutputs _clean, _corrupted;

    /// <summary>Prepares the clean and corrupted runs of <paramref name="inputs"/>.</summary>
    public CircuitEvaluator(HookedTransformer model, PatchingInputs inputs)
    {
        _model = model; _inputs = inputs;
        Graph = CircuitGraph.For(model);
        _clean = NodeOutputs.Run(model, Graph, inputs.Clean);
        _corrupted = NodeOutputs.Run(model, Graph, inputs.Corrupted);
        CleanPerPrompt = PerPrompt(new float[Graph.NBackward * Graph.NForward]);
        var all = new float[Graph.NBackward * Graph.NForward];
        Array.Fill(all, 1f);
        CorruptedPerPrompt = PerPrompt(all);
    }

    /// <summary>The model's graph.</summary>
    public CircuitGraph Graph { get; }
    /// <summary>The prompts, metric and corrupted prompts evaluated.</summary>
    public PatchingInputs Inputs => _inputs;
    /// <summary>Every node's output on the clean prompts (shared with edge scoring).</summary>
    internal NodeOutputs CleanOutputs => _clean;
    /// <summary>Every node's output on the corrupted prompts (shared with edge scoring).</summary>
    internal NodeOutputs CorruptedOutputs => _corrupted;
    /// <summary>Per-prompt metric of the clean run [prompt].</summary>
    public float[] CleanPerPrompt { get; }
    /// <summary>Per-prompt metric with every edge corrupted (= the corrupted run) [prompt].</summary>
    public float[] CorruptedPerPrompt { get; }

    /// <summary>Per-prompt metric with edges patched by <paramref name="corruptedWeight"/> [n_backward, n_forward] (1 = corrupted).</summary>
    public float[] PerPrompt(float[] corruptedWeight) => _inputs.Metric.PerPrompt(EdgePatchedForward.FinalLogits(
        _model, Graph, _inputs.Clean, corruptedWeight, _corrupted, _clean, _inputs.Metric.NeededTokens));

    /// <summary>Per-prompt metric with only <paramref name="circuit"/> clean.</summary>
    public float[] PerPrompt(Circuit circuit)
    {
        if (!ReferenceEquals(circuit.Graph, Graph) && (circuit.Graph.NLayers != Graph.NLayers || circuit.Graph.NHeads != Graph.NHeads))
            throw new InvalidInputException($"the circuit is for a {circuit.Graph.NLayers}x{circuit.Graph.NHeads} model, this one is {Graph.NLayers}x{Graph.NHeads}");
        return PerPrompt(circuit.CorruptedWeights());
    }

    /// <summary>Faithfulness of <paramref name="circuit"/> with a bootstrap CI over prompts.</summary>
    public FaithfulnessResult Faithfulness(Circuit circuit, int resamples = 2000, double level = 0.95, int seed = 0)
    {
        var perPrompt = PerPrompt(circuit);
        var (estimate, ci) = Ratio(perPrompt, CleanPerPrompt, CorruptedPerPrompt, resamples, level, seed);
        return new FaithfulnessResult(circuit.EdgeCount, estimate, ci, perPrompt);
    }

    /// <summary>Faithfulness for circuits of each size in <paramref name="sizes"/>, chosen from <paramref name="scores"/>
    /// by <paramref name="select"/> (e.g. <see cref="Circuit.Greedy"/>).</summary>
    public IReadOnlyList<FaithfulnessResult> Curve(EdgeScores scores, IReadOnlyList<int> sizes, Func<EdgeScores, int, Circuit> select,
        int resamples = 2000, double level = 0.95, int seed = 0) =>
        sizes.Select(n => Faithfulness(select(scores, Math.Min(n, Graph.Edges.Count)), resamples, level, seed)).ToList();

    /// <summary>
    /// (mean a − mean corrupted) / (mean clean − mean corrupted), and its bootstrap interval: prompts are resampled with
    /// replacement and the three means recomputed on the same resample.
    /// </summary>
    public static (float Estimate, ConfidenceInterval Interval) Ratio(float[] values, float[] clean, float[] corrupted,
        int resamples, double level, int seed)
    {
        int n = values.Length;
        float Statistic(float[] indices)
        {
            double a = 0, c = 0, k = 0;
            foreach (float f in indices) { int i = (int)f; a += values[i]; c += clean[i]; k += corrupted[i]; }
            double denominator = c - k;
            return denominator == 0 ? float.NaN : (float)((a - k) / denominator);
        }
        var indices = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        float estimate = Statistic(indices);
        var ci = Bootstrap.ConfidenceInterval(indices, Statistic, resamples, level, seed);
        return (estimate, ci with { Estimate = estimate });
    }

    /// <summary>Exact score of each candidate edge: mean metric with that edge alone corrupted − clean mean metric
    /// (ACDC's per-edge effect, here against the full clean model).</summary>
    public EdgeScores ExactScores(IEnumerable<Edge> candidates)
    {
        var matrix = new float[Graph.NForward * Graph.NBackward];
        float cleanMean = CleanPerPrompt.Average();
        var weights = new float[Graph.NBackward * Graph.NForward];
        foreach (var e in candidates)
        {
            int at = e.Child.Index * Graph.NForward + e.Parent.Index;
            weights[at] = 1f;
            matrix[e.Parent.Index * Graph.NBackward + e.Child.Index] = PerPrompt(weights).Average() - cleanMean;
            weights[at] = 0f;
        }
        return new EdgeScores(Graph, matrix, "exact");
    }
}
