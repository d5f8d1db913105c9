using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Predictions;
using SharpLens.Analysis.Statistics;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Studies;

/// <summary>Where a run is: step <see cref="Step"/> of <see cref="Steps"/> ("group/analysis"), and how far into it.</summary>
public readonly record struct StudyProgress(int Step, int Steps, string Name, double Fraction, bool Skipped);

/// <summary>How a study runs: where it writes, whether it recomputes, which patching engine, progress and report outputs.</summary>
public sealed record StudyRunOptions
{
    /// <summary>The run's folder: results.json, index.html and figures go here.</summary>
    public required string OutDir { get; init; }
    /// <summary>Model name recorded in results.json (a mismatch with an existing run needs <see cref="Force"/>).</summary>
    public string ModelName { get; init; } = "model";
    /// <summary>Recompute every analysis even when results.json has it (also allows another model than the one recorded).</summary>
    public bool Force { get; init; }
    /// <summary>The activation patching engine: exact (fast, same numbers) or plain (one forward per patch).</summary>
    public PatchingMethod Method { get; init; } = PatchingMethod.Exact;
    /// <summary>Receives the step and its fraction done; null for none.</summary>
    public IProgress<StudyProgress>? Progress { get; init; }
    /// <summary>Also write PNG/SVG of every report figure.</summary>
    public bool StaticImages { get; init; }
    /// <summary>Write index.html at the end.</summary>
    public bool WriteReport { get; init; } = true;
    /// <summary>A neuron index of the model: the report links every neuron it names to its page (written into OutDir/neurons/).</summary>
    public SharpLens.Neurons.NeuronIndex? NeuronIndex { get; init; }
}

/// <summary>What a run did.</summary>
/// <param name="Ran">analyses computed by this run</param>
/// <param name="Skipped">analyses already in results.json</param>
/// <param name="Elapsed">wall time of this run</param>
/// <param name="ResultsPath">the run's results.json</param>
/// <param name="ReportPath">its index.html, when written</param>
/// <param name="PeakMemoryBytes">the process's peak resident memory at the end of the run (<see cref="PeakMemory"/>), model load included</param>
public sealed record StudyRunSummary(int Ran, int Skipped, TimeSpan Elapsed, string ResultsPath, string? ReportPath, long PeakMemoryBytes);

/// <summary>
/// Runs a validated study on a model, group by group, analysis by analysis; each finished analysis is saved to
/// results.json at once (atomically), and a later run skips what is there unless forced.
/// </summary>
public sealed class StudyRunner
{
    private readonly HookedTransformer _model;
    private readonly Study _study;
    private readonly IReadOnlyList<ResolvedGroup> _groups;
    private readonly StudyRunOptions _options;
    private readonly Dictionary<string, LogitDiffAttribution> _dla = new();
    private readonly Dictionary<string, ActivationPatcher> _patchers = new();

    /// <summary>Validates <paramref name="study"/> against <paramref name="model"/> (before any model run) and prepares the run.</summary>
    public StudyRunner(HookedTransformer model, Study study, StudyRunOptions options)
    {
        _model = model; _study = study; _options = options;
        _groups = StudyValidation.Resolve(study, StudyTarget.For(model));
    }

    /// <summary>Path of the run's results.json.</summary>
    public string ResultsPath => Path.Combine(_options.OutDir, "results.json");

    private sealed record Step(string Group, string Path, Func<IProgress<double>, JsonNode> Run);

    /// <summary>Runs every analysis not yet in results.json (all when forced), saving after each, then writes the report.</summary>
    public StudyRunSummary Run()
    {
        var watch = Stopwatch.StartNew();
        var results = OpenResults();
        var steps = Plan();
        int ran = 0, skipped = 0;
        bool groupsChanged = false;
        for (int i = 0; i < steps.Count + 1; i++)
        {
            bool isComparison = i == steps.Count;
            if (i > 0 && (isComparison || steps[i].Group != steps[i - 1].Group)) ReleaseGroup(steps[i - 1].Group);
            if (isComparison && _study.ComparedGroups.Count < 2) break;
            string name = isComparison ? "comparisons" : $"{steps[i].Group}/{steps[i].Path}";
            bool done = isComparison ? results.Root["comparisons"] is JsonObject co && co.Count > 0 && !groupsChanged
                : results.Has(steps[i].Group, steps[i].Path);
            if (done && !_options.Force)
            {
                skipped++;
                _options.Progress?.Report(new StudyProgress(i, steps.Count + 1, name, 1, true));
                continue;
            }
            var stepProgress = new Progress(p => _options.Progress?.Report(new StudyProgress(i, steps.Count + 1, name, p, false)));
            _options.Progress?.Report(new StudyProgress(i, steps.Count + 1, name, 0, false));
            var sw = Stopwatch.StartNew();
            // Round-trip through JSON text: every stored number then reads back as any numeric type, as after a reload.
            if (isComparison) results.Root["comparisons"] = Normalize(RunComparisons(results, stepProgress));
            else { results.Set(steps[i].Group, steps[i].Path, Finite(Normalize(steps[i].Run(stepProgress)), name)); groupsChanged = true; }
            results.Timings[name] = Math.Round(sw.Elapsed.TotalSeconds, 3);
            results.Root["elapsed_s"] = Math.Round(results.Timings.Sum(t => t.Value!.GetValue<double>()), 3);
            // The largest peak resident memory of the runs that computed these results (a resumed run may peak lower).
            results.Root["peak_memory_bytes"] = Math.Max(PeakMemory.Bytes(), results.Root["peak_memory_bytes"]?.GetValue<long>() ?? 0);
            results.Save(ResultsPath);
            ran++;
            _options.Progress?.Report(new StudyProgress(i, steps.Count + 1, name, 1, false));
        }
        if (_study.Circuits is { } circuitSettings)
        {
            // Circuits: one step after everything else; redone when a group or the circuits block changed.
            int at = steps.Count + 1, total = steps.Count + 2;
            if (results.Root[CircuitsSection.Key]?["settings"]?["hash"]?.ToString() == circuitSettings.Hash() && !groupsChanged && !_options.Force)
            {
                skipped++;
                _options.Progress?.Report(new StudyProgress(at, total, CircuitsSection.Key, 1, true));
            }
            else
            {
                var sw = Stopwatch.StartNew();
                var progress = new Progress(p => _options.Progress?.Report(new StudyProgress(at, total, CircuitsSection.Key, p, false)));
                results.Root[CircuitsSection.Key] = Finite(Normalize(CircuitsSection.Run(_model, circuitSettings, _groups, _options.OutDir, progress)), CircuitsSection.Key);
                results.Timings[CircuitsSection.Key] = Math.Round(sw.Elapsed.TotalSeconds, 3);
                results.Root["elapsed_s"] = Math.Round(results.Timings.Sum(t => t.Value!.GetValue<double>()), 3);
                results.Save(ResultsPath);
                ran++;
                _options.Progress?.Report(new StudyProgress(at, total, CircuitsSection.Key, 1, false));
            }
        }
        results.Save(ResultsPath);
        string? report = _options.WriteReport ? StudyReport.Write(results, _study, _options.OutDir, _options.StaticImages, _options.NeuronIndex) : null;
        return new StudyRunSummary(ran, skipped, watch.Elapsed, ResultsPath, report, PeakMemory.Bytes());
    }

    /// <summary>Groups whose patcher or attribution the runner holds right now (tests: one group at a time).</summary>
    internal IReadOnlyCollection<string> GroupsHeld => _patchers.Keys.Union(_dla.Keys).ToList();

    /// <summary>
    /// A group's patcher (its clean and corrupted activation caches, keys/values) and attribution are needed only by
    /// its own steps: drop them when the group is done, so a study holds one group's state at a time.
    /// </summary>
    private void ReleaseGroup(string group)
    {
        _patchers.Remove(group);
        _relay.Remove(group);
        _dla.Remove(group);
        StudyMemory.ReturnFreedMemory();
    }

    private static JsonNode Normalize(JsonNode node) => JsonNode.Parse(node.ToJsonString())!;

    /// <summary>A NaN or infinity fails the run loudly (before anything of this step is saved) instead of entering results.json.</summary>
    private static JsonNode Finite(JsonNode node, string step) => FiniteJson.FirstNonFinite(node) is string at
        ? throw new SharpLensException($"{step}: {at} is not a finite number: the model produced NaN or infinity (check the weights, e.g. with `sharplens predict`); nothing was saved for this analysis")
        : node;

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }

    private StudyResults OpenResults()
    {
        StudyResults results;
        if (!_options.Force && File.Exists(ResultsPath))
        {
            results = StudyResults.Load(ResultsPath);
            string? model = results.Model, method = results.Root["settings"]?["method"]?.ToString();
            if (model != _options.ModelName || method != _options.Method.ToString().ToLowerInvariant())
                throw new InvalidInputException(
                    $"{ResultsPath} holds a run with model '{model}' and method '{method}', not '{_options.ModelName}' and '{_options.Method.ToString().ToLowerInvariant()}': pass --force to start over or choose another --out folder");
            // A group whose prompts, answers or settings changed starts over.
            foreach (var g in _groups)
                if (results.Groups[g.Name]?["info"]?["hash"]?.ToString() is string h && h != GroupHash(g))
                    results.Groups.Remove(g.Name);
        }
        else results = new StudyResults(new JsonObject());
        var root = results.Root;
        root["study"] = _study.Name;
        root["title"] = _study.Title ?? _study.Name;
        root["model"] = _options.ModelName;
        root["settings"] = new JsonObject
        {
            ["method"] = _options.Method.ToString().ToLowerInvariant(), ["model"] = _options.ModelName,
            ["normalization"] = "(patched - corrupted) / (clean - corrupted), mean baselines",
            ["metric"] = "mean logit difference at the final position",
        };
        root["study_hash"] = StudyResults.Hash(_study.Source);
        root["study_file"] = _study.Source?.DeepClone();
        foreach (var g in _groups)
        {
            var info = new JsonObject
            {
                ["hash"] = GroupHash(g), ["title"] = g.Group.Title, ["experiment"] = g.Group.Experiment,
                ["prompts"] = Arr(g.CleanTexts), ["str_tokens"] = new JsonArray(g.StrTokens.Select(t => (JsonNode?)Arr(t)).ToArray()),
                ["answers"] = new JsonArray(g.AnswerTexts.Select(a => (JsonNode?)Arr([a.Correct, a.Wrong])).ToArray()),
                ["answer_ids"] = new JsonArray(g.Answers.Select(a => (JsonNode?)new JsonArray(a.Correct, a.Wrong)).ToArray()),
                ["corrupted"] = g.Group.Corrupted is null ? "swap_pairs" : "explicit",
                ["analyses"] = Arr(g.Group.Analyses),
            };
            results.Group(g.Name)["info"] = info;
        }
        return results;
    }

    private static string GroupHash(ResolvedGroup g) => StudyResults.Hash(new JsonObject
    {
        ["clean"] = string.Join(",", g.Clean.Ids), ["lengths"] = string.Join(",", g.Clean.Lengths), ["corrupted"] = string.Join(",", g.Corrupted.Ids),
        ["answers"] = string.Join(",", g.Answers.Select(a => $"{a.Correct}/{a.Wrong}")), ["layers"] = string.Join(",", g.Group.NeuronLayers),
        ["top"] = $"{g.Group.TopNeurons}/{g.Group.TopK}/{g.Group.Candidates}",
        ["named"] = g.NamedNeurons.Count + g.TestPrompts.Count == 0 ? null
            : string.Join(",", g.NamedNeurons.Select(n => $"L{n.Layer}N{n.Index}").Concat(g.TestPrompts.Select(t => $"{string.Join(" ", t.Tokens)}/{t.Answer}"))),
    });

    private List<Step> Plan()
    {
        var steps = new List<Step>();
        foreach (var g in _groups)
        {
            var grp = g.Group;
            if (grp.Has(StudyAnalyses.ModelCheck)) steps.Add(new(g.Name, StudyAnalyses.ModelCheck, _ => ModelCheck(g)));
            if (g.TestPrompts.Count > 0) steps.Add(new(g.Name, StudyTestPrompts.Path, _ => StudyTestPrompts.Run(_model, g)));
            if (g.NamedNeurons.Count > 0) steps.Add(new(g.Name, StudyNamedNeurons.Path, _ => StudyNamedNeurons.Run(_model, g)));
            if (grp.Has(StudyAnalyses.LogitLens)) steps.Add(new(g.Name, StudyAnalyses.LogitLens, _ => new JsonObject { ["grid"] = Dla(g).LogitLens.ToJson() }));
            if (grp.Has(StudyAnalyses.LayerAttribution)) steps.Add(new(g.Name, StudyAnalyses.LayerAttribution, _ => new JsonObject
            {
                ["grid"] = Dla(g).Layers.ToJson(), ["top_neurons_dla"] = Dla(g).TopNeurons.ToJson(),
                ["measured_logit_diff"] = Arr(Dla(g).MeasuredLogitDiff),
            }));
            if (grp.Has(StudyAnalyses.HeadAttribution)) steps.Add(new(g.Name, StudyAnalyses.HeadAttribution, _ => new JsonObject { ["grid"] = Dla(g).Heads.ToJson() }));
            if (grp.Has(StudyAnalyses.AttentionPatterns)) steps.Add(new(g.Name, StudyAnalyses.AttentionPatterns, _ => AttentionPatterns(g)));
            if (grp.Has(StudyAnalyses.Patching))
                foreach (var sweep in grp.Patching) steps.Add(new(g.Name, $"patching/{sweep}", p => Patch(g, sweep, p)));
            if (grp.Has(StudyAnalyses.NeuronPatching)) steps.Add(new(g.Name, StudyAnalyses.NeuronPatching, p => NeuronPatching(g, p)));
            if (grp.Has(StudyAnalyses.AttributionPatching)) steps.Add(new(g.Name, StudyAnalyses.AttributionPatching, p => AttributionPatchingStep(g, p)));
        }
        return steps;
    }

    // ---- (1) model check ----
    private JsonNode ModelCheck(ResolvedGroup g)
    {
        var clean = _model.Run(g.Clean, new ForwardOptions { Logits = LogitsMode.Final });
        var corrupted = _model.Run(g.Corrupted, new ForwardOptions { Logits = LogitsMode.Final });
        var cleanLd = LogitDiff.PerPrompt(clean, g.Answers);
        var corrLd = LogitDiff.PerPrompt(corrupted, g.Answers);
        int vocab = _model.Config.DVocab;
        var predictions = new JsonArray();
        for (int b = 0; b < g.Clean.Batch; b++)
        {
            var p = NextTokenPrediction.FromLogits(_model, g.Clean.Sequence(b), clean.Data.AsSpan(b * vocab, vocab).ToArray(), g.Group.TopK, g.Answers[b].Correct);
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
    private LogitDiffAttribution Dla(ResolvedGroup g)
    {
        if (_dla.TryGetValue(g.Name, out var d)) return d;
        var (_, cache) = _model.RunWithCache(g.Clean, DirectLogitAttribution.NeededHooks(_model.Config.NLayers), LogitsMode.None);
        return _dla[g.Name] = DirectLogitAttribution.ForLogitDiff(_model, cache, g.Clean, g.Answers, 20);
    }

    private JsonNode AttentionPatterns(ResolvedGroup g)
    {
        var heads = Dla(g).Heads;
        int H = _model.Config.NHeads;
        var chosen = heads.Largest(3).Select(c => (i: c.Index, "positive")).Concat(heads.Smallest(3).Select(c => (i: c.Index, "negative")))
            .DistinctBy(x => x.i).ToList();
        var first = TokenBatch.Single(g.Clean.Sequence(0));
        var layers = chosen.Select(c => c.i / H).Distinct().ToList();
        var (_, cache) = _model.RunWithCache(first, layers.Select(HookNames.Pattern), LogitsMode.None);
        int n = first.Pos;
        var list = new JsonArray();
        foreach (var (i, sign) in chosen)
        {
            int l = i / H, h = i % H;
            var pattern = cache[HookNames.Pattern(l)]; // [1, head, q, k]
            var rows = new JsonArray();
            for (int q = 0; q < n; q++)
                rows.Add(Arr(Enumerable.Range(0, n).Select(k => pattern.Data[(h * n + q) * n + k]).ToArray()));
            list.Add(new JsonObject { ["name"] = $"L{l}H{h}", ["layer"] = l, ["head"] = h, ["sign"] = sign, ["dla"] = heads.Values.Data[i], ["pattern"] = rows });
        }
        return new JsonObject { ["prompt"] = g.CleanTexts[0], ["tokens"] = Arr(g.StrTokens[0]), ["heads"] = list };
    }

    // ---- (4) activation patching ----
    private ActivationPatcher Patcher(ResolvedGroup g, IProgress<double>? progress)
    {
        if (!_patchers.TryGetValue(g.Name, out var p))
        {
            var inputs = new PatchingInputs(g.Clean, g.Corrupted, new LogitDiffMetric(g.Answers));
            _patchers[g.Name] = p = new ActivationPatcher(_model, inputs, new PatchingOptions
            {
                Method = _options.Method, StrTokens = g.StrTokens[0], Progress = new ProgressRelay(this, g.Name),
            });
        }
        _relay[g.Name] = progress;
        return p;
    }

    private readonly Dictionary<string, IProgress<double>?> _relay = new();

    private sealed class ProgressRelay(StudyRunner runner, string group) : IProgress<PatchingProgress>
    {
        public void Report(PatchingProgress value) => runner._relay.GetValueOrDefault(group)?.Report(value.Fraction);
    }

    private JsonNode Patch(ResolvedGroup g, string sweep, IProgress<double> progress)
    {
        var patcher = Patcher(g, progress);
        var raw = patcher.Run(patcher.Sweep(sweep));
        return PatchJson(patcher, raw);
    }

    private static JsonObject PatchJson(ActivationPatcher patcher, Grid raw) => new()
    {
        ["grid"] = patcher.Normalize(raw).ToJson(), ["raw"] = raw.ToJson(),
        ["clean_baseline"] = patcher.CleanBaseline.Average(), ["corrupted_baseline"] = patcher.CorruptedBaseline.Average(),
    };

    // ---- (5) neurons ----
    private JsonNode NeuronPatching(ResolvedGroup g, IProgress<double> progress)
    {
        var layers = g.Group.NeuronLayers;
        var patcher = Patcher(g, progress);
        var raw = patcher.Neurons(layers);
        var norm = patcher.Normalize(raw);
        var top = norm.TopByMagnitude(g.Group.TopNeurons);
        var json = PatchJson(patcher, raw);
        json["top"] = NeuronDetails(g, top.Select(c => (layers[c.Row], c.Col, c.Value)).ToList());
        return json;
    }

    /// <summary>Activations (mlp.hook_post) of each neuron on every clean prompt and its direct effect on the answer tokens.</summary>
    private JsonArray NeuronDetails(ResolvedGroup g, IReadOnlyList<(int Layer, int Index, float Effect)> neurons)
    {
        var result = new JsonArray();
        if (neurons.Count == 0) return result;
        var (_, cache) = _model.RunWithCache(g.Clean, neurons.Select(n => HookNames.MlpPost(n.Layer)).Distinct(), LogitsMode.None);
        int dMlp = _model.Config.DMlp, pos = g.Clean.Pos;
        var (a0, a1) = g.Answers[0];
        foreach (var (l, n, effect) in neurons)
        {
            var post = cache[HookNames.MlpPost(l)];
            var acts = new JsonArray();
            for (int b = 0; b < g.Clean.Batch; b++)
                acts.Add(Arr(Enumerable.Range(0, g.Clean.Lengths[b]).Select(p => post.Data[(b * pos + p) * dMlp + n]).ToArray()));
            double direct = NeuronDirectEffect.OnLogitDiff(_model, l, n, a0, a1);
            result.Add(new JsonObject
            {
                ["name"] = $"L{l}N{n}", ["layer"] = l, ["index"] = n, ["effect"] = effect,
                ["direct_effect"] = Math.Round(direct, 6), ["direct_effect_answers"] = Arr([g.AnswerTexts[0].Correct, g.AnswerTexts[0].Wrong]),
                ["activations"] = acts,
            });
        }
        return result;
    }

    // ---- beyond the notebook: attribution patching, then exact patching of the top candidates ----
    private JsonNode AttributionPatchingStep(ResolvedGroup g, IProgress<double> progress)
    {
        var metric = new LogitDiffMetric(g.Answers);
        var attr = SharpLens.Analysis.Attribution.AttributionPatching.Run(_model, g.Clean, g.Corrupted, metric, new AttributionOptions { NeuronsByPosition = false, HeadsByPosition = false });
        progress.Report(0.3);
        var neurons = attr.Normalized("neurons");
        var heads = attr.Normalized("head_out");
        int k = g.Group.Candidates, dMlp = _model.Config.DMlp, H = _model.Config.NHeads;
        var topN = neurons.TopByMagnitude(k).Select(c => c.Index).ToArray();
        var topH = heads.TopByMagnitude(k).Select(c => c.Index).ToArray();
        var patcher = Patcher(g, progress);
        var names = topN.Select(i => $"L{i / dMlp}N{i % dMlp}").Concat(topH.Select(i => $"L{i / H}H{i % H}")).ToArray();
        // The candidates are ordinary patch sites (every position), so the exact engine batches them.
        var sites = topN.Select(i => PatchSite.Neuron(i / dMlp, i % dMlp)).Concat(topH.Select(i => PatchSite.Head("z", i / H, i % H))).ToArray();
        // No later step of a study runs a backward pass on this group; the next group that does builds them again.
        _model.ReleaseBackwardWeights();
        var exactRaw = patcher.Run(PatchSweep.Of("attribution candidates", names, sites));
        var exact = patcher.Normalize(exactRaw);
        var candidates = new JsonArray();
        for (int r = 0; r < names.Length; r++)
        {
            float a = r < topN.Length ? neurons.Values.Data[topN[r]] : heads.Values.Data[topH[r - topN.Length]];
            candidates.Add(new JsonObject { ["name"] = names[r], ["kind"] = r < topN.Length ? "neuron" : "head", ["attribution"] = a, ["exact"] = exact.Values.Data[r] });
        }
        var attrGrid = new Grid(new Tensor(candidates.Select(c => c!["attribution"]!.GetValue<float>()).ToArray(), names.Length, 1), names, ["effect"]);
        var agreement = AttributionAgreement.Compare(attrGrid, exact);
        return new JsonObject
        {
            ["neurons"] = neurons.ToJson(), ["heads"] = heads.ToJson(), ["candidates"] = candidates,
            ["agreement"] = new JsonObject { ["pearson"] = agreement.Pearson, ["spearman"] = agreement.Spearman, ["mean_abs_diff"] = agreement.MeanAbsDiff },
        };
    }

    // ---- (6) comparisons across groups ----
    private JsonNode RunComparisons(StudyResults results, IProgress<double> progress)
    {
        var set = _study.Comparisons;
        var groups = _study.ComparedGroups.Select(g => g.Name).ToList();
        var output = new JsonObject { ["groups"] = Arr(groups.ToArray()), ["threshold"] = set.Threshold, ["alpha"] = set.Alpha, ["correction"] = "holm", ["correction_scope"] = "the cells of one figure for one pair of groups (not across pairs or figures)", ["paired"] = false };
        var figures = new JsonObject();
        int pairs = groups.Count * (groups.Count - 1) / 2, done = 0, total = pairs * set.Figures.Count;
        foreach (var figure in set.Figures)
        {
            string path = figure switch { "logit_lens" or "layer_attribution" or "head_attribution" => figure, _ => $"patching/{figure}" };
            var grids = groups.Select(g => Positional(results.GridAt(g, path)
                ?? throw new InvalidInputException($"comparisons: group '{g}' has no {path} result"))).ToList();
            var pairList = new JsonArray();
            for (int a = 0; a < groups.Count; a++)
                for (int b = a + 1; b < groups.Count; b++)
                {
                    var cmp = GroupComparison.Compare(grids[a], grids[b], paired: false, Correction.Holm, set.Alpha, set.Permutations, set.Resamples, 0.95, set.Seed);
                    var largest = cmp.Cells.OrderByDescending(c => MathF.Abs(c.Diff)).First();
                    var small = cmp.Cells.Where(c => MathF.Abs(c.Diff) < set.Threshold).ToList();
                    pairList.Add(new JsonObject
                    {
                        ["a"] = groups[a], ["b"] = groups[b],
                        ["max_abs_diff"] = MathF.Abs(largest.Diff), ["max_cell"] = $"{largest.Row}/{largest.Col}",
                        ["cells"] = cmp.Cells.Count, ["significant"] = cmp.Significant.Count(),
                        ["below_threshold"] = small.Count, ["below_threshold_significant"] = small.Count(c => c.Significant),
                        ["significant_cells"] = new JsonArray(cmp.Significant.Take(20).Select(c => (JsonNode?)CellJson(c)).ToArray()),
                        ["largest_cells"] = new JsonArray(cmp.Cells.OrderByDescending(c => MathF.Abs(c.Diff)).Take(5).Select(c => (JsonNode?)CellJson(c)).ToArray()),
                    });
                    progress.Report(++done / (double)total);
                }
            figures[figure] = new JsonObject { ["path"] = path, ["pairs"] = pairList };
        }
        output["figures"] = figures;
        return output;
    }

    private static JsonObject CellJson(CellComparison c) => new()
    {
        ["row"] = c.Row, ["col"] = c.Col, ["mean_a"] = c.MeanA, ["mean_b"] = c.MeanB, ["diff"] = c.Diff,
        ["ci"] = new JsonArray(c.DiffLower, c.DiffUpper), ["p"] = c.PValue, ["p_adjusted"] = c.PAdjusted, ["significant"] = c.Significant,
    };

    /// <summary>Position columns "they_7" differ between groups: compare by index ("pos_7").</summary>
    internal static Grid Positional(Grid g)
    {
        if (g.ColTitle != "position") return g;
        var cols = g.Cols.Select((c, i) => $"pos_{i}").ToArray();
        return new Grid(g.Values, g.Rows, cols, g.PerPrompt) { Title = g.Title, RowTitle = g.RowTitle, ColTitle = g.ColTitle };
    }

    internal static JsonArray Arr(IEnumerable<float> v) => FiniteJson.Array(v, "a per-prompt value");
    internal static JsonArray Arr(IEnumerable<string> v) => new(v.Select(x => (JsonNode?)x).ToArray());
}
