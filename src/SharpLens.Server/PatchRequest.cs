using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>
/// One patching run of the explorer, validated when it is queued: what to patch ("kinds": <see cref="SweepNames"/>,
/// as <c>sharplens patch --what</c>), which layers' neurons, and how ("exact": the fast exact engine; "attribution":
/// attribution patching). It runs as the CLI runs: one <see cref="IPatchingEngine"/>, the sweeps of
/// <see cref="NamedSweeps.Plan"/>, grids normalized (patched - corrupted) / (clean - corrupted) and keyed as
/// <c>sharplens patch</c> keys them.
/// </summary>
internal sealed record PatchRequest(AnalysisInput Data, string[] Kinds, int[] NeuronLayers, string Method)
{
    /// <summary>The kinds the page ticks when it opens.</summary>
    public static readonly string[] DefaultKinds = ["resid_pre", "attn_out", "mlp_out", "head_out"];

    public static PatchRequest Parse(HookedTransformer model, ExplorerRequest request)
    {
        var kinds = request.Strings("kinds");
        if (kinds.Length == 0) throw new InvalidInputException($"choose what to patch: any of {string.Join(", ", SweepNames.All)}");
        foreach (var k in kinds)
            if (!SweepNames.All.Contains(k)) throw new InvalidInputException($"unknown patch kind '{k}': use any of {string.Join(", ", SweepNames.All)}");
        string method = request.String("method", "exact");
        if (method is not ("exact" or "attribution")) throw new InvalidInputException($"unknown method '{method}': use exact or attribution");
        int[] layers = request.Body["neuron_layers"] is JsonArray list
            ? list.Select((n, i) => n is JsonValue v && v.TryGetValue(out int l) ? l : throw new InvalidInputException($"neuron_layers[{i}] must be a layer number")).ToArray()
            : [model.Config.NLayers - 1];
        foreach (int l in layers)
            if (l < 0 || l >= model.Config.NLayers) throw new InvalidInputException($"neuron layer {l} does not exist: the model has layers 0..{model.Config.NLayers - 1}");
        if (kinds.Contains(SweepNames.Neurons) && layers.Length == 0) throw new InvalidInputException("neuron patching needs at least one layer in neuron_layers");
        var data = request.Input(alignedLengths: true, corruptedOptional: false);
        return new PatchRequest(data, kinds.Distinct().ToArray(), layers.Distinct().ToArray(), method);
    }

    /// <summary>Runs the patching; <paramref name="progress"/> is told after every pass and may throw to cancel, and
    /// <paramref name="partial"/> gets each sweep's key and <see cref="GridJson"/> as soon as it is done.</summary>
    public JsonObject Run(HookedTransformer model, Action<PatchingProgress> progress, Action<string, JsonObject> partial, CancellationToken cancel)
    {
        var inputs = new PatchingInputs(Data.Clean, Data.Corrupted, new LogitDiffMetric(Data.Answers));
        var options = new PatchingOptions
        {
            StrTokens = Data.CleanStrTokens[0],
            Progress = new Reporter(p => { cancel.ThrowIfCancellationRequested(); progress(p); }),
        };
        IPatchingEngine engine;
        if (Method == "attribution")
        {
            progress(new PatchingProgress(0, 1, "attribution"));
            engine = new AttributionPatcher(model, inputs, options);
            progress(new PatchingProgress(1, 1, "attribution"));
        }
        else engine = new ActivationPatcher(model, inputs, options);
        var plan = engine.Plan(Kinds, NeuronLayers);
        var grids = new List<(string Key, JsonObject Grid)>();
        foreach (var (key, grid) in engine.RunEach(plan, normalize: true, starting: _ => cancel.ThrowIfCancellationRequested()))
        {
            var json = GridJson(grid, plan[grids.Count].Sweep);
            grids.Add((key, json));
            partial(key, json);
        }
        var result = AnalysisResult.Header(model, Data, engine.CleanBaseline, engine.CorruptedBaseline);
        foreach (var (key, grid) in grids) result[key] = grid.DeepClone();
        result["settings"] = new JsonObject
        {
            ["command"] = "patch", ["method"] = Method, ["direction"] = "denoise", ["align"] = "start",
            ["metric"] = "normalized logit difference (patched - corrupted) / (clean - corrupted)",
        };
        return result;
    }

    /// <summary>A grid as <c>sharplens patch</c> writes it, plus, for head and neuron sweeps, "components": what a cell
    /// patches (its kind, each row's layer and each column's head or neuron index), so the page opens the head or
    /// neuron of a clicked cell without knowing any sweep's layout.</summary>
    public static JsonObject GridJson(Grid grid, PatchSweep sweep)
    {
        var json = grid.ToJson();
        if (sweep.Components() is { } c)
            json["components"] = new JsonObject
            {
                ["kind"] = c.Kind,
                ["row_layers"] = new JsonArray(c.RowLayers.Select(l => (JsonNode?)l).ToArray()),
                ["col_indices"] = new JsonArray(c.ColIndices.Select(i => (JsonNode?)i).ToArray()),
            };
        return json;
    }

    // Progress<T> would post to the thread pool; the check for cancellation must run on the patching thread.
    sealed class Reporter(Action<PatchingProgress> report) : IProgress<PatchingProgress>
    {
        public void Report(PatchingProgress value) => report(value);
    }
}
