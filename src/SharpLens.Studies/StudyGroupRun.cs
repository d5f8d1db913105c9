using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Predictions;
using SharpLens.Model;

namespace SharpLens.Studies;

/// <summary>
/// The analyses of one study group, each a library call turned into the JSON results.json keeps. It holds the group's
/// state that several steps share (the clean run's direct logit attribution; the patcher's clean and corrupted caches
/// and keys/values) until the runner drops it when the group is done.
/// </summary>
internal sealed class StudyGroupRun(HookedTransformer model, ResolvedGroup g, PatchingMethod method)
{
    private LogitDiffAttribution? _dla;
    private ActivationPatcher? _patcher;
    private IProgress<double>? _progress;

    /// <summary>The group.</summary>
    public ResolvedGroup Group => g;

    // ---- (1) model check ----
    public JsonNode ModelCheck()
    {
        var clean = model.Run(g.Clean, new ForwardOptions { Logits = LogitsMode.Final });
        var corrupted = model.Run(g.Corrupted, new ForwardOptions { Logits = LogitsMode.Final });
        var cleanLd = LogitDiff.PerPrompt(clean, g.Answers);
        var corrLd = LogitDiff.PerPrompt(corrupted, g.Answers);
        int vocab = model.Config.DVocab;
        var predictions = new JsonArray();
        for (int b = 0; b < g.Clean.Batch; b++)
        {
            var p = NextTokenPrediction.FromLogits(model, g.Clean.Sequence(b), clean.Data.AsSpan(b * vocab, vocab).ToArray(), g.Group.TopK, g.Answers[b].Correct);
            var json = p.ToJson();
            json["prompt"] = g.CleanTexts[b];
            predictions.Add(json);
        }
        return new JsonObject
        {
            ["clean_per_prompt"] = FiniteJson.Array(cleanLd, $"{g.Name}: clean logit difference per prompt"), ["clean_logit_diff"] = cleanLd.Average(),
            ["corrupted_per_prompt"] = FiniteJson.Array(corrLd, $"{g.Name}: corrupted logit difference per prompt"), ["corrupted_logit_diff"] = corrLd.Average(),
            ["predictions"] = predictions,
        };
    }

    // ---- (2), (3) direct logit attribution ----
    public LogitDiffAttribution Dla()
    {
        if (_dla is not null) return _dla;
        var (_, cache) = model.RunWithCache(g.Clean, DirectLogitAttribution.NeededHooks(model), LogitsMode.None);
        return _dla = DirectLogitAttribution.ForLogitDiff(model, cache, g.Clean, g.Answers, 20);
    }

    public JsonNode AttentionPatterns()
    {
        var dla = Dla().Heads;
        int H = model.Config.NHeads;
        var chosen = dla.Largest(3).Select(c => (c.Index, Sign: "positive")).Concat(dla.Smallest(3).Select(c => (c.Index, Sign: "negative")))
            .DistinctBy(x => x.Index).ToList();
        var heads = chosen.Select(c => new HeadId(c.Index / H, c.Index % H)).ToList();
        var patterns = ComponentActivations.HeadPatterns(model, g.Clean.Sequence(0), heads);
        var list = new JsonArray();
        for (int c = 0; c < chosen.Count; c++)
        {
            var (head, pattern) = (heads[c], patterns[c]);
            var rows = new JsonArray(Enumerable.Range(0, pattern.GetLength(0))
                .Select(q => (JsonNode?)StudyRunner.Arr(Enumerable.Range(0, pattern.GetLength(1)).Select(k => pattern[q, k]))).ToArray());
            list.Add(new JsonObject { ["name"] = head.ToString(), ["layer"] = head.Layer, ["head"] = head.Head, ["sign"] = chosen[c].Sign, ["dla"] = dla.Values.Data[chosen[c].Index], ["pattern"] = rows });
        }
        return new JsonObject { ["prompt"] = g.CleanTexts[0], ["tokens"] = StudyRunner.Arr(g.StrTokens[0]), ["heads"] = list };
    }

    // ---- (4) activation patching ----
    /// <summary>The group's patcher (built on first use), reporting the current step's progress.</summary>
    private ActivationPatcher Patcher(IProgress<double>? progress)
    {
        _progress = progress;
        return _patcher ??= new ActivationPatcher(model, new PatchingInputs(g.Clean, g.Corrupted, new LogitDiffMetric(g.Answers)), new PatchingOptions
        {
            Method = method, StrTokens = g.StrTokens[0], Progress = new Relay(this),
        });
    }

    private sealed class Relay(StudyGroupRun run) : IProgress<PatchingProgress>
    {
        public void Report(PatchingProgress value) => run._progress?.Report(value.Fraction);
    }

    /// <summary>One named sweep (<see cref="SweepNames"/>); "neurons" over the group's neuron layers (every layer when none are given).</summary>
    public JsonNode Patch(string sweep, IProgress<double> progress)
    {
        var patcher = Patcher(progress);
        var layers = g.Group.NeuronLayers.Count > 0 ? g.Group.NeuronLayers : null;
        return PatchJson(patcher, patcher.Run(patcher.Sweep(sweep, layers)));
    }

    private static JsonObject PatchJson(ActivationPatcher patcher, Grid raw) => new()
    {
        ["grid"] = patcher.Normalize(raw).ToJson(), ["raw"] = raw.ToJson(),
        ["clean_baseline"] = patcher.CleanBaseline.Average(), ["corrupted_baseline"] = patcher.CorruptedBaseline.Average(),
    };

    // ---- (5) neurons ----
    public JsonNode NeuronPatching(IProgress<double> progress)
    {
        var layers = g.Group.NeuronLayers;
        var patcher = Patcher(progress);
        var raw = patcher.Neurons(layers);
        var top = patcher.Normalize(raw).TopByMagnitude(g.Group.TopNeurons);
        var json = PatchJson(patcher, raw);
        json["top"] = NeuronDetails(top.Select(c => (new NeuronId(layers[c.Row], c.Col), c.Value)).ToList());
        return json;
    }

    /// <summary>Activations (mlp.hook_post) of each neuron on every clean prompt and its direct effect on the answer tokens.</summary>
    private JsonArray NeuronDetails(IReadOnlyList<(NeuronId Neuron, float Effect)> neurons)
    {
        var result = new JsonArray();
        var activations = ComponentActivations.NeuronActivations(model, g.Clean, neurons.Select(n => n.Neuron).ToList());
        var (a0, a1) = g.Answers[0];
        for (int i = 0; i < neurons.Count; i++)
        {
            var (neuron, effect) = neurons[i];
            double direct = NeuronDirectEffect.OnLogitDiff(model, neuron.Layer, neuron.Neuron, a0, a1);
            result.Add(new JsonObject
            {
                ["name"] = neuron.ToString(), ["layer"] = neuron.Layer, ["index"] = neuron.Neuron, ["effect"] = effect,
                ["direct_effect"] = Math.Round(direct, 6), ["direct_effect_answers"] = StudyRunner.Arr([g.AnswerTexts[0].Correct, g.AnswerTexts[0].Wrong]),
                ["activations"] = new JsonArray(activations[i].Select(perPrompt => (JsonNode?)StudyRunner.Arr(perPrompt)).ToArray()),
            });
        }
        return result;
    }

    // ---- beyond the notebook: attribution patching, then exact patching of the top candidates ----
    public JsonNode AttributionPatching(IProgress<double> progress)
    {
        var attribution = new AttributionPatcher(model, new PatchingInputs(g.Clean, g.Corrupted, new LogitDiffMetric(g.Answers)));
        var sweeps = new[] { SweepNames.Neurons, "head_out" }.Select(name => new NamedSweep(name, attribution.Sweep(name))).ToList();
        var estimates = AttributionCheck.Estimate(attribution, sweeps);
        progress.Report(0.3);
        // No later step of a study runs a backward pass on this group; the next group that does builds them again.
        model.ReleaseBackwardWeights();
        // The exact check is the rest of the step (0.3 to 1), so the step's progress never moves back.
        var check = AttributionCheck.Check(estimates, Patcher(new StudyRunner.Progress(f => progress.Report(0.3 + 0.7 * f))), top: g.Group.Candidates);
        var agreement = check.Agreement();
        return new JsonObject
        {
            ["neurons"] = check.Estimates[SweepNames.Neurons].ToJson(), ["heads"] = check.Estimates["head_out"].ToJson(),
            ["candidates"] = new JsonArray(check.Candidates.Select(c => (JsonNode?)new JsonObject
                { ["name"] = c.Name, ["kind"] = c.Kind, ["attribution"] = c.Attribution, ["exact"] = c.Exact }).ToArray()),
            ["agreement"] = new JsonObject { ["pearson"] = agreement.Pearson, ["spearman"] = agreement.Spearman, ["mean_abs_diff"] = agreement.MeanAbsDiff },
        };
    }
}
