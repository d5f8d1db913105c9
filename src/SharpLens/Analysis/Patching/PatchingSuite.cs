using System.Diagnostics;
using SharpLens.Model;

namespace SharpLens.Analysis.Patching;

/// <summary>The grids of one suite run, how many patched runs they took and how long (in all, and per grid).</summary>
public sealed record PatchingSuiteResult(IReadOnlyDictionary<string, Grid> Grids, int PatchedRuns, TimeSpan Elapsed)
{
    /// <summary>Wall time of each grid's sweep, keyed like <see cref="Grids"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> SweepTimes { get; init; } = new Dictionary<string, TimeSpan>();
}

/// <summary>
/// The "experiment 1" patching suite (what <c>sharplens bench</c> times): resid_pre, attn_out and mlp_out by
/// position; head output, value and pattern over all positions; every neuron of the chosen layers (8 and 10 on
/// GPT-2 small: about 6,700 patched runs for 8-token prompts).
/// </summary>
public static class PatchingSuite
{
    /// <summary>Layers 8 and 10 when the model has them, else its last layer.</summary>
    public static IReadOnlyList<int> DefaultNeuronLayers(int nLayers) => nLayers > 10 ? [8, 10] : [nLayers - 1];

    /// <summary>The suite's sweeps, by canonical name (<see cref="SweepNames"/>), in the order they run.</summary>
    public static readonly IReadOnlyList<string> Experiment1Sweeps =
        ["resid_pre", "attn_out", "mlp_out", "head_out", "head_v", "head_pattern", SweepNames.Neurons];

    /// <summary>Runs <see cref="Experiment1Sweeps"/>; grids are keyed by sweep name.</summary>
    public static PatchingSuiteResult RunExperiment1(HookedTransformer model, PatchingInputs inputs,
        PatchingOptions? options = null, IReadOnlyList<int>? neuronLayers = null)
    {
        var watch = Stopwatch.StartNew();
        var patcher = new ActivationPatcher(model, inputs, options);
        var grids = new Dictionary<string, Grid>();
        var times = new Dictionary<string, TimeSpan>();
        void Sweep(string name, Func<Grid> sweep)
        {
            var started = watch.Elapsed;
            grids[name] = sweep();
            times[name] = watch.Elapsed - started;
        }
        foreach (var name in Experiment1Sweeps)
            Sweep(name, () => patcher.Run(patcher.Sweep(name, neuronLayers ?? DefaultNeuronLayers(model.Config.NLayers))));
        return new PatchingSuiteResult(grids, patcher.PatchedRuns, watch.Elapsed) { SweepTimes = times };
    }
}
