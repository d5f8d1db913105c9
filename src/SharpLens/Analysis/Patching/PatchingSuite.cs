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
        Sweep("resid_pre", () => patcher.ByPosition("resid_pre"));
        Sweep("attn_out", () => patcher.ByPosition("attn_out"));
        Sweep("mlp_out", () => patcher.ByPosition("mlp_out"));
        Sweep("head_output", () => patcher.HeadsAllPositions(HeadActivation.Output));
        Sweep("head_value", () => patcher.HeadsAllPositions(HeadActivation.Value));
        Sweep("head_pattern", () => patcher.HeadsAllPositions(HeadActivation.Pattern));
        Sweep("neurons", () => patcher.Neurons(neuronLayers ?? DefaultNeuronLayers(model.Config.NLayers)));
        return new PatchingSuiteResult(grids, patcher.PatchedRuns, watch.Elapsed) { SweepTimes = times };
    }
}
