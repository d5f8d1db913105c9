using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Circuits;

/// <summary>How edges are scored: EAP, EAP-IG, or exact patching of a candidate set.</summary>
public enum EdgeScoringMethod
{
    /// <summary>Edge attribution patching: gradient times activation difference, one forward and one backward pass.</summary>
    Eap,
    /// <summary>EAP with integrated gradients along the clean-to-corrupted input path (EAP-IG's "EAP-IG-inputs").</summary>
    EapIg,
    /// <summary>EAP-IG's top candidates re-scored by exact edge patching; the other edges score 0.</summary>
    Exact,
}

/// <summary>Which metric the scores and faithfulness use.</summary>
public enum CircuitMetricKind
{
    /// <summary>Logit difference logit(correct) - logit(wrong) at the final position.</summary>
    LogitDiff,
    /// <summary>KL divergence of the patched from the clean final-position distribution.</summary>
    Kl,
}

/// <summary>Settings of one circuit search.</summary>
public sealed record CircuitSearchOptions
{
    /// <summary>Scoring method (default EAP-IG).</summary>
    public EdgeScoringMethod Method { get; init; } = EdgeScoringMethod.EapIg;
    /// <summary>EAP-IG interpolation steps (also used to pick exact-scoring candidates).</summary>
    public int IgSteps { get; init; } = 5;
    /// <summary>Edges in the circuit.</summary>
    public int Edges { get; init; } = 200;
    /// <summary>Greedy growth from the logits (EAP-IG's apply_greedy) when true, else top-n by |score|.</summary>
    public bool Greedy { get; init; } = true;
    /// <summary>Exact method: how many EAP-IG top edges are scored exactly (default 4 x <see cref="Edges"/>); others score 0.</summary>
    public int? Candidates { get; init; }
}

/// <summary>A circuit search's outcome: all edge scores, the selected circuit and its faithfulness.</summary>
/// <param name="Scores">Every edge's score.</param>
/// <param name="Circuit">The selected, pruned circuit.</param>
/// <param name="Faithfulness">Its faithfulness with a bootstrap CI.</param>
public sealed record CircuitSearchResult(EdgeScores Scores, Circuit Circuit, FaithfulnessResult Faithfulness);

/// <summary>Scores → circuit → faithfulness in one call, the library behind <c>sharplens circuit</c> and the study.</summary>
public static class CircuitDiscovery
{
    /// <summary>The metric: logit difference on the answers, or KL(clean ‖ run) of the final-position distribution.</summary>
    public static IMetric Metric(HookedTransformer model, CircuitMetricKind kind, TokenBatch clean, IReadOnlyList<(int Correct, int Wrong)> answers) =>
        kind == CircuitMetricKind.Kl
            ? new KlMetric(model.Forward(clean, new ForwardOptions { Logits = LogitsMode.Final }))
            : new LogitDiffMetric(answers);

    /// <summary>Checks the options against the model's graph before any model run.</summary>
    public static void Validate(CircuitGraph graph, CircuitSearchOptions options)
    {
        if (options.Edges < 1 || options.Edges > graph.Edges.Count)
            throw new InvalidInputException($"--edges must be between 1 and {graph.Edges.Count} (the model's edge count), got {options.Edges}");
        if (options.IgSteps < 1 || options.IgSteps > 1000)
            throw new InvalidInputException($"--steps must be between 1 and 1000, got {options.IgSteps}");
        if (options.Candidates is int c && (c < 1 || c > graph.Edges.Count))
            throw new InvalidInputException($"--candidates must be between 1 and {graph.Edges.Count}, got {c}");
    }

    /// <summary>Edge scores by the chosen method.</summary>
    public static EdgeScores Score(HookedTransformer model, PatchingInputs inputs, CircuitSearchOptions options, CircuitEvaluator? evaluator = null)
    {
        var graph = CircuitGraph.For(model);
        Validate(graph, options);
        // An evaluator of these very inputs already holds the clean and corrupted runs: the scores reuse them.
        var runs = evaluator is not null && ReferenceEquals(evaluator.Inputs, inputs) ? evaluator : null;
        EdgeScores Attribution(int steps) => EdgeAttribution.Run(model, inputs.Clean, inputs.Corrupted, inputs.Metric, steps, runs?.CleanOutputs, runs?.CorruptedOutputs);
        switch (options.Method)
        {
            case EdgeScoringMethod.Eap: return Attribution(0);
            case EdgeScoringMethod.EapIg: return Attribution(options.IgSteps);
            default:
                var estimate = Attribution(options.IgSteps);
                int count = Math.Min(graph.Edges.Count, options.Candidates ?? 4 * options.Edges);
                evaluator ??= new CircuitEvaluator(model, inputs);
                return evaluator.ExactScores(estimate.Top(count).Select(p => p.Edge));
        }
    }

    /// <summary>The circuit of <paramref name="edges"/> edges chosen from <paramref name="scores"/>.</summary>
    public static Circuit Select(EdgeScores scores, int edges, bool greedy) =>
        greedy ? Circuit.Greedy(scores, edges) : Circuit.TopN(scores, edges);

    /// <summary>Scores, selects and evaluates a circuit.</summary>
    public static CircuitSearchResult Run(HookedTransformer model, PatchingInputs inputs, CircuitSearchOptions options, int resamples = 2000)
    {
        var evaluator = new CircuitEvaluator(model, inputs);
        var scores = Score(model, inputs, options, evaluator);
        var circuit = Select(scores, options.Edges, options.Greedy);
        return new CircuitSearchResult(scores, circuit, evaluator.Faithfulness(circuit, resamples));
    }

    /// <summary>Circuit sizes for a faithfulness curve: <paramref name="count"/> sizes spaced evenly in log scale from
    /// <paramref name="smallest"/> to <paramref name="largest"/> (distinct, ascending).</summary>
    public static int[] LogSizes(int smallest, int largest, int count)
    {
        if (smallest < 1 || largest < smallest || count < 1) throw new InvalidInputException($"curve sizes need 1 <= smallest <= largest and count >= 1 (got {smallest}, {largest}, {count})");
        return Enumerable.Range(0, count)
            .Select(i => count == 1 ? largest : (int)Math.Round(smallest * Math.Pow((double)largest / smallest, (double)i / (count - 1))))
            .Distinct().ToArray();
    }
}
