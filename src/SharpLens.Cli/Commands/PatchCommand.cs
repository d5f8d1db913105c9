using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using Spectre.Console;
using Grid = SharpLens.Analysis.Grid;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens patch</c>: activation patching (exact, plain reference, or attribution estimate) of the logit difference.</summary>
internal static class PatchCommand
{
    /// <summary>What <c>--what</c> accepts: the canonical sweep names (<see cref="SweepNames.All"/>).</summary>
    public static IReadOnlyList<string> Kinds => SweepNames.All;

    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var input = new Option<string>("--input", "-i") { Description = "Input JSON: clean, corrupted, answers", Required = true };
        var what = new Option<string>("--what", "-w") { Description = "Comma-separated sweeps: " + string.Join(",", Kinds), DefaultValueFactory = _ => "resid_pre,attn_out,mlp_out" };
        var neuronLayers = new Option<string?>("--neuron-layers") { Description = "Layers whose neurons to patch, e.g. 8,10 (default: every layer)" };
        var byPosition = new Option<bool>("--by-position") { Description = "Patch heads one position at a time (head_out becomes head_out_by_pos, ...)" };
        var method = new Option<string>("--method") { Description = "Patching method: exact (fast, same numbers as plain), plain (one forward per patch) or attribution (linear estimate)", DefaultValueFactory = _ => "exact" };
        method.AcceptOnlyFromAmong("exact", "plain", "attribution");
        var direction = new Option<string>("--direction") { Description = "Patching direction: denoise patches clean activations into the corrupted run; noise patches corrupted into clean", DefaultValueFactory = _ => "denoise" };
        direction.AcceptOnlyFromAmong("denoise", "noise");
        var align = new Option<string>("--align") { Description = "Position alignment: start counts positions from the first token; end counts back from each prompt's final token (prompts of different lengths)", DefaultValueFactory = _ => "start" };
        align.AcceptOnlyFromAmong("start", "end");
        var rawMetric = new Option<bool>("--raw-metric") { Description = "Report the raw logit difference instead of the normalized score (patched - corrupted) / (clean - corrupted)" };
        var compareExact = new Option<bool>("--compare-exact") { Description = "With --method attribution: also patch exactly and report how well the estimate agrees (correlation, largest disagreements)" };
        var json = OutputPaths.File(new Option<string>("--json") { Description = "Where to write the results JSON", Required = true });
        var plot = OutputPaths.Folder(new Option<string?>("--plot") { Description = "Also render the results as a report into this folder" });
        var command = new Command("patch", "Activation patching of the logit difference over layers, positions, heads and neurons")
            { model, raw, input, what, neuronLayers, byPosition, method, direction, align, rawMetric, compareExact, json, plot };
        command.SetAction(parse =>
        {
            var kinds = Sweeps(parse.GetValue(what)!, parse.GetValue(byPosition));
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            int[] layers = parse.GetValue(neuronLayers) is string nl ? Cli.ParseIds(nl) : Enumerable.Range(0, lm.Config.NLayers).ToArray();
            foreach (int l in layers)
                if (l < 0 || l >= lm.Config.NLayers) throw new InvalidInputException($"--neuron-layers {l} does not exist: the model has layers 0..{lm.Config.NLayers - 1}");
            var data = AnalysisInput.Load(parse.GetValue(input)!, lm, requireAlignedLengths: true);
            var request = new Request(kinds, layers, parse.GetValue(byPosition), parse.GetValue(method)!,
                parse.GetValue(direction) == "noise" ? PatchDirection.CorruptedIntoClean : PatchDirection.CleanIntoCorrupted, !parse.GetValue(rawMetric),
                parse.GetValue(align) == "end" ? Alignment.End : Alignment.Start);
            if (parse.GetValue(compareExact) && request.Method != "attribution")
                throw new InvalidInputException("--compare-exact compares attribution patching with exact patching: add --method attribution");
            request = request with { CompareExact = parse.GetValue(compareExact) };
            var result = Run(lm, data, request);
            result["settings"] = new JsonObject
            {
                ["command"] = "patch", ["method"] = request.Method, ["direction"] = parse.GetValue(direction), ["align"] = parse.GetValue(align),
                ["metric"] = request.Normalize ? "normalized logit difference (patched - corrupted) / (clean - corrupted)" : "logit difference",
                ["raw_weights"] = parse.GetValue(raw), ["input"] = parse.GetValue(input),
            };
            PlotCommand.WriteResult(result, parse.GetValue(json)!, parse.GetValue(plot), "patch");
            return 0;
        });
        return command;
    }

    /// <summary>The canonical sweep names of a <c>--what</c> list; <paramref name="byPosition"/> turns head sweeps into
    /// their <c>_by_pos</c> forms.</summary>
    internal static string[] Sweeps(string what, bool byPosition)
    {
        var names = new List<string>();
        foreach (var given in what.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!SweepNames.All.Contains(given)) throw new InvalidInputException($"unknown --what '{given}': use any of {string.Join(",", Kinds)}");
            names.Add(byPosition && SweepNames.Heads.Contains(given) ? given + "_by_pos" : given);
        }
        if (names.Count == 0) throw new InvalidInputException($"--what is empty: name at least one of {string.Join(",", Kinds)}");
        return names.Distinct().ToArray();
    }

    public sealed record Request(string[] Kinds, int[] NeuronLayers, bool ByPosition, string Method, PatchDirection Direction, bool Normalize,
        Alignment Alignment = Alignment.Start, bool CompareExact = false);

    public static JsonObject Run(HookedTransformer model, AnalysisInput data, Request request)
    {
        var inputs = new PatchingInputs(data.Clean, data.Corrupted, new LogitDiffMetric(data.Answers));
        JsonObject result = [];
        var progressColumns = new ProgressColumn[] { new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn() };
        AttributionCheckResult? check = null;
        Cli.Err.Progress().Columns(progressColumns).Start(ctx =>
        {
            var progress = new SweepProgress(ctx.AddTask("patching", maxValue: 1));
            var options = new PatchingOptions
            {
                Method = request.Method == "plain" ? PatchingMethod.Plain : PatchingMethod.Exact,
                Direction = request.Direction,
                Alignment = request.Alignment,
                StrTokens = data.CleanStrTokens[0],
                Progress = new Cli.SyncProgress<PatchingProgress>(progress.Report),
            };
            IPatchingEngine engine = request.Method == "attribution" ? new AttributionPatcher(model, inputs, options) : new ActivationPatcher(model, inputs, options);
            var plan = engine.Plan(request.Kinds, request.NeuronLayers);
            // Every sweep is planned first, so that progress counts one total over all of them.
            progress.Plan(plan.Select(s => (s.Key, s.Sweep.Sites.Count)).ToList());
            var grids = engine.RunEach(plan, request.Normalize, starting: _ => progress.Next()).Select((g, i) => (plan[i], g.Grid)).ToList();
            progress.Complete();
            result = AnalysisResult.Header(model, data, engine.CleanBaseline, engine.CorruptedBaseline);
            foreach (var (sweep, grid) in grids) result[sweep.Key] = grid.ToJson();
            if (!request.CompareExact) return;
            // The exact check: every cell of every sweep, in the estimate's units, with its own progress.
            var exact = new ActivationPatcher(model, inputs, options with { Method = PatchingMethod.Exact });
            progress.Plan(plan.Select(s => (s.Key, s.Sweep.Sites.Count)).ToList());
            check = AttributionCheck.Check(grids, exact, top: null, request.Normalize, starting: _ => progress.Next());
            progress.Complete();
        });
        if (check is not null) result["agreement"] = Agreement(check);
        return result;
    }

    /// <summary>Each sweep's agreement of the estimate with exact patching: JSON, and a table on stderr.</summary>
    private static JsonObject Agreement(AttributionCheckResult check)
    {
        var agreement = new JsonObject();
        var table = new Table().AddColumns("result", "cells", "pearson", "spearman", "mean |attr - exact|", "largest disagreement");
        foreach (var key in check.Estimates.Keys)
        {
            var report = check.Agreement(key, top: 10);
            agreement[key] = new JsonObject
            {
                ["pearson"] = report.Pearson, ["spearman"] = report.Spearman, ["cells"] = report.Cells, ["mean_abs_diff"] = report.MeanAbsDiff,
                ["largest"] = new JsonArray(report.Largest.Select(d => (JsonNode?)new JsonObject
                    { ["row"] = d.Row, ["col"] = d.Col, ["attribution"] = d.Attribution, ["exact"] = d.Exact, ["diff"] = d.Diff }).ToArray()),
            };
            var worst = report.Largest.FirstOrDefault();
            table.AddRow(Markup.Escape(key), report.Cells.ToString(), report.Pearson.ToString("F3"), report.Spearman.ToString("F3"), report.MeanAbsDiff.ToString("F4"),
                worst is null ? "" : Markup.Escape($"{worst.Row}/{worst.Col}: {worst.Attribution:F3} vs {worst.Exact:F3}"));
        }
        Cli.Err.Write(table);
        return agreement;
    }
}
