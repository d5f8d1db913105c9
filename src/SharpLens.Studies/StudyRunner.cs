using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Patching;
using SharpLens.Model;

namespace SharpLens.Studies;

/// <summary>
/// Where a run is: step <see cref="Step"/> of <see cref="Steps"/> ("group/analysis"), how far into it, and how much of
/// the whole run's estimated work is done (<see cref="Done"/> of <see cref="Total"/>, in tokens through the model:
/// <see cref="StudyWork"/>), which is what a progress bar should show: steps differ in size a hundredfold.
/// </summary>
public readonly record struct StudyProgress(int Step, int Steps, string Name, double Fraction, bool Skipped, double Done, double Total);

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
    /// <summary>The group whose steps run now, with the state they share; one group at a time.</summary>
    private StudyGroupRun? _current;

    /// <summary>Validates <paramref name="study"/> against <paramref name="model"/> (before any model run) and prepares the run.</summary>
    public StudyRunner(HookedTransformer model, Study study, StudyRunOptions options)
    {
        _model = model; _study = study; _options = options;
        _groups = StudyValidation.Resolve(study, StudyTarget.For(model));
    }

    /// <summary>Path of the run's results.json.</summary>
    public string ResultsPath => Path.Combine(_options.OutDir, "results.json");

    /// <summary>One analysis of one group; <paramref name="Work"/> is its estimated size (<see cref="StudyWork"/>).</summary>
    private sealed record Step(string Group, string Path, double Work, Func<IProgress<double>, JsonNode> Run);

    /// <summary>Runs every analysis not yet in results.json (all when forced), saving after each, then writes the report.</summary>
    public StudyRunSummary Run()
    {
        var watch = Stopwatch.StartNew();
        var results = OpenResults();
        var steps = Plan();
        int ran = 0, skipped = 0;
        bool groupsChanged = false;
        // Progress counts work, not steps: the comparisons and circuits come after every group's steps.
        double comparisonsWork = ComparisonsWork(), circuitsWork = CircuitsWork();
        int stepCount = steps.Count + (_study.ComparedGroups.Count >= 2 ? 1 : 0) + (_study.Circuits is null ? 0 : 1);
        double totalWork = steps.Sum(s => s.Work) + comparisonsWork + circuitsWork, doneWork = 0;
        void Report(int step, int count, string name, double fraction, bool wasDone, double work) =>
            _options.Progress?.Report(new StudyProgress(step, count, name, fraction, wasDone, doneWork + fraction * work, totalWork));
        for (int i = 0; i < steps.Count + 1; i++)
        {
            bool isComparison = i == steps.Count;
            if (i > 0 && (isComparison || steps[i].Group != steps[i - 1].Group)) ReleaseGroup(steps[i - 1].Group);
            if (isComparison && _study.ComparedGroups.Count < 2) break;
            string name = isComparison ? "comparisons" : $"{steps[i].Group}/{steps[i].Path}";
            double work = isComparison ? comparisonsWork : steps[i].Work;
            bool done = isComparison ? results.Root["comparisons"] is JsonObject co && co.Count > 0 && !groupsChanged
                : results.Has(steps[i].Group, steps[i].Path);
            if (done && !_options.Force)
            {
                skipped++;
                Report(i, stepCount, name, 1, true, work);
                doneWork += work;
                continue;
            }
            var stepProgress = new Progress(p => Report(i, stepCount, name, p, false, work));
            Report(i, stepCount, name, 0, false, work);
            var sw = Stopwatch.StartNew();
            // Round-trip through JSON text: every stored number then reads back as any numeric type, as after a reload.
            if (isComparison) results.Root["comparisons"] = Normalize(StudyComparisons.Run(_study, results, stepProgress));
            else { results.Set(steps[i].Group, steps[i].Path, Finite(Normalize(steps[i].Run(stepProgress)), name)); groupsChanged = true; }
            results.Timings[name] = Math.Round(sw.Elapsed.TotalSeconds, 3);
            results.Root["elapsed_s"] = Math.Round(results.Timings.Sum(t => t.Value!.GetValue<double>()), 3);
            // The largest peak resident memory of the runs that computed these results (a resumed run may peak lower).
            results.Root["peak_memory_bytes"] = Math.Max(PeakMemory.Bytes(), results.Root["peak_memory_bytes"]?.GetValue<long>() ?? 0);
            results.Save(ResultsPath);
            ran++;
            Report(i, stepCount, name, 1, false, work);
            doneWork += work;
        }
        if (_study.Circuits is { } circuitSettings)
        {
            // Circuits: one step after everything else; redone when a group or the circuits block changed.
            int at = stepCount - 1, total = stepCount;
            if (results.Root[CircuitsSection.Key]?["settings"]?["hash"]?.ToString() == circuitSettings.Hash() && !groupsChanged && !_options.Force)
            {
                skipped++;
                Report(at, total, CircuitsSection.Key, 1, true, circuitsWork);
            }
            else
            {
                var sw = Stopwatch.StartNew();
                var progress = new Progress(p => Report(at, total, CircuitsSection.Key, p, false, circuitsWork));
                progress.Report(0);
                results.Root[CircuitsSection.Key] = Finite(Normalize(CircuitsSection.Run(_model, circuitSettings, _groups, _options.OutDir, progress)), CircuitsSection.Key);
                results.Timings[CircuitsSection.Key] = Math.Round(sw.Elapsed.TotalSeconds, 3);
                results.Root["elapsed_s"] = Math.Round(results.Timings.Sum(t => t.Value!.GetValue<double>()), 3);
                results.Save(ResultsPath);
                ran++;
                Report(at, total, CircuitsSection.Key, 1, false, circuitsWork);
            }
        }
        results.Save(ResultsPath);
        string? report = _options.WriteReport ? StudyReport.Write(results, _study, _options.OutDir, _options.StaticImages, _options.NeuronIndex) : null;
        return new StudyRunSummary(ran, skipped, watch.Elapsed, ResultsPath, report, PeakMemory.Bytes());
    }

    /// <summary>Groups whose state (patcher, attribution) the runner holds right now (tests: one group at a time).</summary>
    internal IReadOnlyCollection<string> GroupsHeld => _current is null ? [] : [_current.Group.Name];

    /// <summary>The state of <paramref name="g"/>'s steps, made when its first step runs.</summary>
    private StudyGroupRun Group(ResolvedGroup g) =>
        _current?.Group.Name == g.Name ? _current : _current = new StudyGroupRun(_model, g, _options.Method);

    /// <summary>
    /// A group's patcher (its clean and corrupted activation caches, keys/values) and attribution are needed only by
    /// its own steps: drop them when the group is done, so a study holds one group's state at a time.
    /// </summary>
    private void ReleaseGroup(string group)
    {
        if (_current?.Group.Name == group) _current = null;
        StudyMemory.ReturnFreedMemory();
    }

    private static JsonNode Normalize(JsonNode node) => JsonNode.Parse(node.ToJsonString())!;

    /// <summary>A NaN or infinity fails the run loudly (before anything of this step is saved) instead of entering results.json.</summary>
    private static JsonNode Finite(JsonNode node, string step) => FiniteJson.FirstNonFinite(node) is string at
        ? throw new SharpLensException($"{step}: {at} is not a finite number: the model produced NaN or infinity (check the weights, e.g. with `sharplens predict`); nothing was saved for this analysis")
        : node;

    /// <summary>Reports synchronously on the calling thread (System.Progress posts to the thread pool, out of order).</summary>
    internal sealed class Progress(Action<double> report) : IProgress<double>
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
            : string.Join(",", g.NamedNeurons.Select(n => n.ToString()).Concat(g.TestPrompts.Select(t => $"{string.Join(" ", t.Tokens)}/{t.Answer}"))),
    });

    private List<Step> Plan()
    {
        var steps = new List<Step>();
        var cfg = _model.Config;
        foreach (var g in _groups)
        {
            var grp = g.Group;
            // Work in tokens through the model: passes (StudyWork) times the group's tokens.
            double tokens = StudyWork.Tokens(g), pass = tokens, prompt = tokens / g.Clean.Batch;
            void Add(string path, double work, Func<StudyGroupRun, IProgress<double>, JsonNode> run) => steps.Add(new(g.Name, path, work, p => run(Group(g), p)));
            if (grp.Has(StudyAnalyses.ModelCheck)) Add(StudyAnalyses.ModelCheck, 2 * pass, (r, _) => r.ModelCheck());
            if (g.TestPrompts.Count > 0) Add(StudyTestPrompts.Path, g.TestPrompts.Count * prompt, (_, _) => StudyTestPrompts.Run(_model, g));
            if (g.NamedNeurons.Count > 0) Add(StudyNamedNeurons.Path, pass, (_, _) => StudyNamedNeurons.Run(_model, g));
            // The three attribution views share one cached run (whichever comes first computes it).
            if (grp.Has(StudyAnalyses.LogitLens)) Add(StudyAnalyses.LogitLens, pass / 3, (r, _) => new JsonObject { ["grid"] = r.Dla().LogitLens.ToJson() });
            if (grp.Has(StudyAnalyses.LayerAttribution)) Add(StudyAnalyses.LayerAttribution, pass / 3, (r, _) => new JsonObject
            {
                ["grid"] = r.Dla().Layers.ToJson(), ["top_neurons_dla"] = r.Dla().TopNeurons.ToJson(),
                ["measured_logit_diff"] = Arr(r.Dla().MeasuredLogitDiff),
            });
            if (grp.Has(StudyAnalyses.HeadAttribution)) Add(StudyAnalyses.HeadAttribution, pass / 3, (r, _) => new JsonObject { ["grid"] = r.Dla().Heads.ToJson() });
            if (grp.Has(StudyAnalyses.AttentionPatterns)) Add(StudyAnalyses.AttentionPatterns, prompt, (r, _) => r.AttentionPatterns());
            if (grp.Has(StudyAnalyses.Patching))
                foreach (var sweep in grp.Patching) Add($"patching/{sweep}", StudyWork.Sweep(sweep, cfg, g.Clean.Pos) * pass, (r, p) => r.Patch(sweep, p));
            if (grp.Has(StudyAnalyses.NeuronPatching))
                Add(StudyAnalyses.NeuronPatching, StudyWork.Sweep(SweepNames.Neurons, cfg, g.Clean.Pos, grp.NeuronLayers) * pass, (r, p) => r.NeuronPatching(p));
            if (grp.Has(StudyAnalyses.AttributionPatching))
                Add(StudyAnalyses.AttributionPatching, StudyWork.AttributionPatching(cfg, g.Clean.Pos, grp.Candidates) * pass, (r, p) => r.AttributionPatching(p));
        }
        return steps;
    }

    /// <summary>Every step the run has (done before or not) with its estimated work, in the order they run, the
    /// comparisons and circuits last (tests: the progress a run reports).</summary>
    internal IReadOnlyList<(string Name, double Work)> PlannedWork()
    {
        var planned = Plan().Select(s => ($"{s.Group}/{s.Path}", s.Work)).ToList();
        if (_study.ComparedGroups.Count >= 2) planned.Add(("comparisons", ComparisonsWork()));
        if (_study.Circuits is not null) planned.Add((CircuitsSection.Key, CircuitsWork()));
        return planned;
    }

    /// <summary>The comparisons' work (0 when fewer than two groups are compared).</summary>
    private double ComparisonsWork()
    {
        var set = _study.Comparisons;
        var compared = _groups.Where(g => _study.ComparedGroups.Any(c => c.Name == g.Name)).ToList();
        if (compared.Count < 2) return 0;
        var cfg = _model.Config;
        int positions = compared.Max(g => g.Clean.Pos), prompts = compared.Max(g => g.Clean.Batch);
        var cells = set.Figures.Select(f => f switch
        {
            StudyAnalyses.HeadAttribution => cfg.NLayers * cfg.NHeads,
            StudyAnalyses.LayerAttribution or StudyAnalyses.LogitLens => 2 * cfg.NLayers + 2,
            _ => SweepNames.All.Contains(f) ? SweepNames.Build(f, cfg, [.. Enumerable.Range(0, positions)], [.. Enumerable.Range(0, positions).Select(p => p.ToString())]).Sites.Count : 0,
        });
        return StudyWork.Comparisons(compared.Count, cells, prompts, set.Permutations, set.Resamples);
    }

    /// <summary>The circuits section's work (0 without a circuits block), as <see cref="CircuitsSection"/> reports it.</summary>
    private double CircuitsWork()
    {
        if (_study.Circuits is not { } s) return 0;
        var (groups, pathGroup) = s.Resolve(_groups, StudyTarget.For(_model));
        return StudyWork.Circuits(s, groups.Count, Circuits.CircuitGraph.For(_model)).Total(groups, pathGroup, s.Receivers.Count);
    }

    internal static JsonArray Arr(IEnumerable<float> v) => FiniteJson.Array(v, "a per-prompt value");
    internal static JsonArray Arr(IEnumerable<string> v) => new(v.Select(x => (JsonNode?)x).ToArray());
}
