using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>
/// One patching run of the explorer, validated when it is queued: what to patch ("kinds", the CLI's --what names),
/// which layers' neurons, and how ("exact": the fast exact engine; "attribution": attribution patching). Results are
/// normalized scores (patched - corrupted) / (clean - corrupted), keyed like <c>sharplens patch</c>'s JSON.
/// </summary>
internal sealed record PatchRequest(AnalysisInput Data, string[] Kinds, int[] NeuronLayers, string Method)
{
    /// <summary>The activations the explorer patches (the CLI's --what names).</summary>
    public static readonly string[] KnownKinds =
        ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "head_out", "head_q", "head_k", "head_v", "head_pattern", "neurons"];

    public static PatchRequest Parse(HookedTransformer model, ExplorerRequest request)
    {
        var kinds = request.Strings("kinds");
        if (kinds.Length == 0) throw new InvalidInputException($"choose what to patch: any of {string.Join(", ", KnownKinds)}");
        foreach (var k in kinds)
            if (!KnownKinds.Contains(k)) throw new InvalidInputException($"unknown patch kind '{k}': use any of {string.Join(", ", KnownKinds)}");
        string method = request.String("method", "exact");
        if (method is not ("exact" or "attribution")) throw new InvalidInputException($"unknown method '{method}': use exact or attribution");
        int[] layers = request.Body["neuron_layers"] is JsonArray list
            ? list.Select((n, i) => n is JsonValue v && v.TryGetValue(out int l) ? l : throw new InvalidInputException($"neuron_layers[{i}] must be a layer number")).ToArray()
            : [model.Config.NLayers - 1];
        foreach (int l in layers)
            if (l < 0 || l >= model.Config.NLayers) throw new InvalidInputException($"neuron layer {l} does not exist: the model has layers 0..{model.Config.NLayers - 1}");
        if (kinds.Contains("neurons") && layers.Length == 0) throw new InvalidInputException("neuron patching needs at least one layer in neuron_layers");
        var data = request.Input(alignedLengths: true, corruptedOptional: false);
        return new PatchRequest(data, kinds.Distinct().ToArray(), layers.Distinct().ToArray(), method);
    }

    /// <summary>Runs the patching; <paramref name="progress"/> is told after every pass and may throw to cancel, and
    /// <paramref name="partial"/> gets each kind's normalized grid (key as in the result) as soon as it is done.</summary>
    public JsonObject Run(HookedTransformer model, Action<PatchingProgress> progress, Action<string, JsonNode> partial, CancellationToken cancel)
    {
        var metric = new LogitDiffMetric(Data.Answers);
        var grids = new List<(string Key, Grid Grid)>();
        float[] clean, corrupted;
        if (Method == "attribution")
        {
            progress(new PatchingProgress(0, 1, "attribution"));
            var result = Analysis.Attribution.AttributionPatching.Run(model, Data.Clean, Data.Corrupted, metric);
            cancel.ThrowIfCancellationRequested();
            foreach (var kind in Kinds)
                if (kind == "neurons") grids.AddRange(NeuronLayers.Select(l => ($"neurons_L{l}", result.Normalized($"neurons_L{l}"))));
                else grids.Add((kind, result.Normalized(kind)));
            clean = result.CleanPerPrompt; corrupted = result.CorruptedPerPrompt;
            progress(new PatchingProgress(1, 1, "attribution"));
        }
        else
        {
            var patcher = new ActivationPatcher(model, new PatchingInputs(Data.Clean, Data.Corrupted, metric), new PatchingOptions
            {
                StrTokens = Data.CleanStrTokens[0],
                Progress = new Reporter(p => { cancel.ThrowIfCancellationRequested(); progress(p); }),
            });
            void Finished(string key, Grid grid)
            {
                grids.Add((key, grid));
                partial(key, grid.ToJson());
            }
            foreach (var kind in Kinds)
            {
                cancel.ThrowIfCancellationRequested();
                if (kind == "neurons")
                    foreach (int l in NeuronLayers) Finished($"neurons_L{l}", patcher.Normalize(patcher.Neurons([l])));
                else Finished(kind, patcher.Normalize(kind.StartsWith("head_") ? patcher.HeadsAllPositions(Head(kind)) : patcher.ByPosition(kind)));
            }
            clean = patcher.CleanBaseline; corrupted = patcher.CorruptedBaseline;
        }
        var json = AnalysisResult.Header(model, Data, clean, corrupted);
        foreach (var (key, grid) in grids) json[key] = grid.ToJson();
        json["settings"] = new JsonObject
        {
            ["command"] = "patch", ["method"] = Method, ["direction"] = "denoise", ["align"] = "start",
            ["metric"] = "normalized logit difference (patched - corrupted) / (clean - corrupted)",
        };
        return json;
    }

    static HeadActivation Head(string kind) => kind switch
    {
        "head_out" => HeadActivation.Output, "head_q" => HeadActivation.Query, "head_k" => HeadActivation.Key,
        "head_v" => HeadActivation.Value, _ => HeadActivation.Pattern,
    };

    // Progress<T> would post to the thread pool; the check for cancellation must run on the patching thread.
    sealed class Reporter(Action<PatchingProgress> report) : IProgress<PatchingProgress>
    {
        public void Report(PatchingProgress value) => report(value);
    }
}
