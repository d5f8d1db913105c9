using System.Diagnostics;
using SharpLens.Model;

namespace SharpLens.Analysis.Patching;

/// <summary>The grids of one suite run, how many patched runs they took and how long.</summary>
public sealed record PatchingSuiteResult(IReadOnlyDictionary<string, Grid> Grids, int PatchedRuns, TimeSpan Elapsed);

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
        var grids = new Dictionary<string, Grid>
        {
            ["resid_pre"] = patcher.ByPosition("resid_pre"),
            ["attn_out"] = patcher.ByPosition("attn_out"),
            ["mlp_out"] = patcher.ByPosition("mlp_out"),
            ["head_output"] = patcher.HeadsAllPositions(HeadActivation.Output),
            ["head_value"] = patcher.HeadsAllPositions(HeadActivation.Value),
            ["head_pattern"] = patcher.HeadsAllPositions(HeadActivation.Pattern),
            ["neurons"] = patcher.Neurons(neuronLayers ?? DefaultNeuronLayers(model.Config.NLayers)),
        };
        return new PatchingSuiteResult(grids, patcher.PatchedRuns, watch.Elapsed);
    }
}
