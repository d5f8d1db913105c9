using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Statistics;
using SharpLens.Model;

namespace SharpLens.Circuits;

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
        // Both baselines by the same computation (nothing patched, each run's own node outputs), so that equal prompts give
        // bit-equal metrics and no effect is exactly a zero gap, not float round-off between two orders of summation.
        var none = new float[Graph.NBackward * Graph.NForward];
        CleanPerPrompt = PerPrompt(none);
        CorruptedPerPrompt = inputs.Metric.PerPrompt(EdgePatchedForward.FinalLogits(model, Graph, inputs.Corrupted, none, _corrupted, _corrupted, inputs.Metric.NeededTokens));
        Units = UnitsOf(inputs);
    }

    /// <summary>
    /// The prompts' independent units, which intervals resample: a swapped pair (corrupted[i] = clean[i^1] and the other
    /// way round, a study's "swap_pairs") is one unit, since its two prompts' clean and corrupted runs are the same two
    /// runs; otherwise each prompt is its own unit.
    /// </summary>
    public IReadOnlyList<int[]> Units { get; }

    private static int[][] UnitsOf(PatchingInputs inputs)
    {
        int n = inputs.Clean.Batch;
        bool swapped = n % 2 == 0 && n > 0 && Enumerable.Range(0, n).All(i => inputs.Corrupted.Sequence(i).AsSpan().SequenceEqual(inputs.Clean.Sequence(i ^ 1)));
        return swapped ? Enumerable.Range(0, n / 2).Select(p => new[] { 2 * p, 2 * p + 1 }).ToArray() : Enumerable.Range(0, n).Select(i => new[] { i }).ToArray();
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
    /// <summary>Per-prompt metric of the corrupted run [prompt] (equal, up to float round-off, to every edge corrupted).</summary>
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

    /// <summary>The clean − corrupted gap every faithfulness on these inputs divides by, with the Student-t interval at
    /// <paramref name="level"/> of its mean over <see cref="Units"/> (see <see cref="EffectGap.IsClear"/>).</summary>
    public EffectGap Gap(double level = 0.95)
    {
        var unitGaps = Units.Select(u => u.Average(i => (double)CleanPerPrompt[i] - CorruptedPerPrompt[i])).ToArray();
        int n = unitGaps.Length;
        double mean = unitGaps.Average();
        if (n < 2) return new EffectGap((float)mean, new ConfidenceInterval((float)mean, float.NaN, float.NaN, level), n);
        double sd = Math.Sqrt(unitGaps.Sum(g => (g - mean) * (g - mean)) / (n - 1));
        double half = MathNet.Numerics.Distributions.StudentT.InvCDF(0, 1, n - 1, 1 - (1 - level) / 2) * sd / Math.Sqrt(n);
        return new EffectGap((float)mean, new ConfidenceInterval((float)mean, (float)(mean - half), (float)(mean + half), level), n);
    }

    /// <summary>
    /// Faithfulness of <paramref name="circuit"/> with a bootstrap CI over prompts; its <see cref="FaithfulnessResult.Status"/>
    /// says <see cref="FaithfulnessStatus.Empty"/> for a circuit without edges and <see cref="FaithfulnessStatus.Undecided"/>
    /// when the clean − corrupted gap is not clear (<see cref="EffectGap.IsClear"/>).
    /// </summary>
    public FaithfulnessResult Faithfulness(Circuit circuit, int resamples = 2000, double level = 0.95, int seed = 0)
    {
        var perPrompt = PerPrompt(circuit);
        var (estimate, ci) = Ratio(perPrompt, CleanPerPrompt, CorruptedPerPrompt, resamples, level, seed, Units);
        var status = circuit.EdgeCount == 0 ? FaithfulnessStatus.Empty
            : Gap(level).IsClear ? FaithfulnessStatus.Measured : FaithfulnessStatus.Undecided;
        return new FaithfulnessResult(circuit.EdgeCount, estimate, ci, perPrompt) { Status = status };
    }

    /// <summary>Faithfulness for circuits of each size in <paramref name="sizes"/>, chosen from <paramref name="scores"/>
    /// by <paramref name="select"/> (e.g. <see cref="Circuit.Greedy"/>).</summary>
    public IReadOnlyList<FaithfulnessResult> Curve(EdgeScores scores, IReadOnlyList<int> sizes, Func<EdgeScores, int, Circuit> select,
        int resamples = 2000, double level = 0.95, int seed = 0) =>
        sizes.Select(n => Faithfulness(select(scores, Math.Min(n, Graph.Edges.Count)), resamples, level, seed)).ToList();

    /// <summary>
    /// (mean a − mean corrupted) / (mean clean − mean corrupted), and its bootstrap interval: <paramref name="units"/> of
    /// prompts (default: each prompt alone) are resampled with replacement and the three means recomputed on the same resample.
    /// </summary>
    public static (float Estimate, ConfidenceInterval Interval) Ratio(float[] values, float[] clean, float[] corrupted,
        int resamples, double level, int seed, IReadOnlyList<int[]>? units = null)
    {
        units ??= Enumerable.Range(0, values.Length).Select(i => new[] { i }).ToArray();
        float Statistic(float[] picked)
        {
            double a = 0, c = 0, k = 0;
            foreach (float f in picked)
                foreach (int i in units[(int)f]) { a += values[i]; c += clean[i]; k += corrupted[i]; }
            double denominator = c - k;
            return denominator == 0 ? float.NaN : (float)((a - k) / denominator);
        }
        var indices = Enumerable.Range(0, units.Count).Select(i => (float)i).ToArray();
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
