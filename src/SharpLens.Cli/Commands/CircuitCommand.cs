using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Reports;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens circuit</c>: edge scores (EAP, EAP-IG or exact), a circuit, its faithfulness (curve), written as EAP-IG
/// graph JSON and a report; <c>sharplens circuit evaluate CIRCUIT.json</c>: the faithfulness of a saved circuit.
/// </summary>
internal static class CircuitCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var input = InputOption();
        var method = new Option<string>("--method") { Description = "Scoring method: eap, eap-ig, exact (exact patching of the top EAP-IG candidates) or acdc (iterative exact pruning, needs --threshold)", DefaultValueFactory = _ => "eap-ig" };
        var threshold = new Option<float?>("--threshold") { Description = "With --method acdc: remove every edge whose removal moves the mean metric by less than this" };
        var steps = new Option<int>("--steps") { Description = "EAP-IG interpolation steps", DefaultValueFactory = _ => 5 };
        var edges = new Option<int?>("--edges") { Description = $"Edges in the circuit (default {DefaultEdges}, or every edge of a model with fewer)" };
        var select = new Option<string>("--select") { Description = "Selection: greedy (grow from the logits, as EAP-IG) or topn", DefaultValueFactory = _ => "greedy" };
        var candidates = new Option<int?>("--candidates") { Description = "With --method exact, how many top EAP-IG edges to patch one by one (4 x --edges when omitted)" };
        var metric = MetricOption();
        var curve = new Option<string?>("--curve") { Description = "Faithfulness curve sizes, e.g. 10,50,200,1000 (default: 12 sizes from 10 to all edges)" };
        var json = OutputPaths.File(new Option<string>("--json") { Description = "Where to write the circuit (EAP-IG graph JSON, with a 'sharplens' summary)", Required = true });
        var plot = OutputPaths.Folder(new Option<string?>("--plot") { Description = "Also write a report with the circuit figure and the faithfulness curve into this folder" });
        var command = new Command("circuit", "Find a circuit: edge attribution (EAP / EAP-IG / exact), selection, faithfulness")
        {
            model, raw, input, method, steps, edges, select, candidates, metric, curve, json, plot, threshold,
        };
        command.Subcommands.Add(CreateEvaluate());
        command.SetAction(parse =>
        {
            bool acdc = string.Equals(parse.GetValue(method), "acdc", StringComparison.OrdinalIgnoreCase);
            float? acdcThreshold = parse.GetValue(threshold);
            if (acdc != acdcThreshold is not null)
                throw new InvalidInputException(acdc ? "--method acdc needs --threshold, e.g. --threshold 0.01" : "--threshold only applies to --method acdc");
            if (acdcThreshold is { } t && !(t >= 0 && float.IsFinite(t))) throw new InvalidInputException($"--threshold must be a finite number >= 0, got {t}");
            var scoring = acdc ? EdgeScoringMethod.EapIg : ParseMethod(parse.GetValue(method)!);
            bool greedy = ParseSelect(parse.GetValue(select)!);
            var kind = ParseMetric(parse.GetValue(metric)!);
            string? curveText = parse.GetValue(curve);
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            var graph = CircuitGraph.For(lm);
            // A default is a suggestion for GPT-2-sized graphs: on a smaller model it is the whole graph, never an error.
            var options = new CircuitSearchOptions
            {
                Method = scoring, IgSteps = parse.GetValue(steps), Edges = parse.GetValue(edges) ?? Math.Min(DefaultEdges, graph.Edges.Count),
                Greedy = greedy, Candidates = parse.GetValue(candidates),
            };
            if (!acdc) CircuitDiscovery.Validate(graph, options);     // ACDC's size follows from the threshold
            int[] sizes = curveText is not null ? ParseSizes(curveText, graph)
                : acdc ? [] : CircuitDiscovery.LogSizes(Math.Min(10, graph.Edges.Count), graph.Edges.Count, 12);
            var inputs = LoadInputs(lm, parse.GetValue(input)!, kind);

            var evaluator = new CircuitEvaluator(lm, inputs.Patching);
            EdgeScores scores;
            Circuit circuit;
            if (acdcThreshold is { } at)
            {
                var found = Acdc.Run(evaluator, at);
                (scores, circuit) = (found.Circuit.Scores!, found.Circuit);
                if (circuit.EdgeCount == 0) throw new InvalidInputException($"ACDC removed every edge at --threshold {at}: lower the threshold");
            }
            else
            {
                scores = CircuitDiscovery.Score(lm, inputs.Patching, options, evaluator);
                circuit = CircuitDiscovery.Select(scores, options.Edges, options.Greedy);
            }
            var faithfulness = evaluator.Faithfulness(circuit);
            var points = evaluator.Curve(scores, sizes, (s, n) => CircuitDiscovery.Select(s, n, options.Greedy));
            var gap = evaluator.Gap();

            string outPath = parse.GetValue(json)!;
            var summary = Summary(lm, inputs, scores.Method, kind, options, gap, faithfulness, points);
            if (acdcThreshold is { } used) { summary["threshold"] = used; summary["ig_steps"] = null; summary["selection"] = "acdc"; }
            WriteCircuit(circuit, outPath, summary);
            Cli.Err.MarkupLine(Markup.Escape($"{scores.Method}: circuit of {circuit.EdgeCount} edges ({circuit.Nodes.Count} nodes), faithfulness {CircuitReport.Format(faithfulness)}; wrote {outPath}"));
            if (!gap.IsClear) Cli.Err.MarkupLine(Markup.Escape(CircuitReport.UndecidedNote(gap)));
            if (acdcThreshold is null && circuit.EdgeCount < options.Edges)
                Cli.Err.MarkupLine(Markup.Escape(PrunedNote(options.Edges, circuit.EdgeCount, options.Greedy)));
            if (parse.GetValue(plot) is string dir)
            {
                var report = new Report($"Circuit ({scores.Method}, {circuit.EdgeCount} edges)") { Model = lm.Config.ModelName, Kind = "circuit" };
                report.Set("method", scores.Method).Set("metric", kind).Set("input", parse.GetValue(input));
                CircuitReport.Add(report, "circuit", circuit, faithfulness, points);
                Cli.Err.MarkupLine($"report: {Markup.Escape(report.Write(dir))}");
            }
            return 0;
        });
        return command;
    }

    private static Command CreateEvaluate()
    {
        var file = new Argument<string>("circuit") { Description = "Circuit JSON (sharplens circuit --json, or EAP-IG's Graph.to_json)" };
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var input = InputOption();
        var metric = MetricOption();
        var json = OutputPaths.File(new Option<string?>("--json") { Description = "Where to write the evaluation JSON" });
        var plot = OutputPaths.Folder(new Option<string?>("--plot") { Description = "Also write a report with the circuit figure into this folder" });
        var command = new Command("evaluate", "Faithfulness of a saved circuit on an input (exact edge patching)") { file, model, raw, input, metric, json, plot };
        command.SetAction(parse =>
        {
            var kind = ParseMetric(parse.GetValue(metric)!);
            string path = parse.GetValue(file)!;
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            var circuit = CircuitJson.Read(path, CircuitGraph.For(lm));
            CircuitJson.RequireNonEmpty(circuit, path);
            var inputs = LoadInputs(lm, parse.GetValue(input)!, kind);
            var evaluator = new CircuitEvaluator(lm, inputs.Patching);
            var result = evaluator.Faithfulness(circuit);
            var gap = evaluator.Gap();
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"faithfulness {CircuitReport.Format(result)} ({circuit.EdgeCount} edges, {inputs.Patching.Prompts} prompts)"));
            if (!gap.IsClear) Cli.Err.MarkupLine(Markup.Escape(CircuitReport.UndecidedNote(gap)));
            if (parse.GetValue(json) is string outPath)
            {
                var o = Merge(new JsonObject { ["model"] = lm.Config.ModelName, ["circuit"] = path, ["metric"] = MetricName(kind) }, result.ToJson());
                o["gap"] = gap.ToJson();
                o["circuit_per_prompt"] = Numbers(result.CircuitPerPrompt);
                o["clean_per_prompt"] = Numbers(evaluator.CleanPerPrompt);
                o["corrupted_per_prompt"] = Numbers(evaluator.CorruptedPerPrompt);
                Cli.WriteAtomic(outPath, o.ToJsonString(Cli.Json));
            }
            if (parse.GetValue(plot) is string dir)
            {
                var report = new Report($"Circuit {Path.GetFileName(path)}") { Model = lm.Config.ModelName, Kind = "circuit evaluate" };
                CircuitReport.Add(report, Path.GetFileNameWithoutExtension(path), circuit, result);
                Cli.Err.MarkupLine($"report: {Markup.Escape(report.Write(dir))}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The circuit size asked for when --edges is not given (capped at the model's edge count).</summary>
    internal const int DefaultEdges = 200;

    internal static Option<string> InputOption() => new("--input", "-i") { Description = "Input JSON: clean, corrupted, answers (paired prompts of equal length)", Required = true };

    internal static Option<string> MetricOption() => new("--metric") { Description = "Metric: logit-diff or kl (KL divergence to the clean distribution)", DefaultValueFactory = _ => "logit-diff" };

    internal sealed record Inputs(AnalysisInput Data, PatchingInputs Patching);

    internal static Inputs LoadInputs(HookedTransformer model, string path, CircuitMetricKind kind)
    {
        var data = AnalysisInput.Load(path, model);
        var metric = CircuitDiscovery.Metric(model, kind, data.Clean, data.Answers);
        return new Inputs(data, new PatchingInputs(data.Clean, data.Corrupted, metric));
    }

    internal static CircuitMetricKind ParseMetric(string text) => text.ToLowerInvariant() switch
    {
        "logit-diff" or "logit_diff" => CircuitMetricKind.LogitDiff,
        "kl" => CircuitMetricKind.Kl,
        _ => throw new InvalidInputException($"unknown --metric '{text}': use logit-diff or kl"),
    };

    private static string MetricName(CircuitMetricKind kind) => kind == CircuitMetricKind.Kl ? "kl" : "logit_diff";

    private static EdgeScoringMethod ParseMethod(string text) => text.ToLowerInvariant() switch
    {
        "eap" => EdgeScoringMethod.Eap,
        "eap-ig" or "eap_ig" or "eapig" => EdgeScoringMethod.EapIg,
        "exact" => EdgeScoringMethod.Exact,
        _ => throw new InvalidInputException($"unknown --method '{text}': use eap, eap-ig, exact or acdc"),
    };

    private static bool ParseSelect(string text) => text.ToLowerInvariant() switch
    {
        "greedy" => true,
        "topn" or "top-n" => false,
        _ => throw new InvalidInputException($"unknown --select '{text}': use greedy or topn"),
    };

    private static int[] ParseSizes(string text, CircuitGraph graph)
    {
        var sizes = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
            int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= graph.Edges.Count ? n
            : throw new InvalidInputException($"--curve size '{s}' must be an integer between 1 and {graph.Edges.Count}")).Distinct().Order().ToArray();
        return sizes.Length > 0 ? sizes : throw new InvalidInputException("--curve needs at least one size, e.g. --curve 10,100,1000");
    }

    private static JsonObject Summary(HookedTransformer model, Inputs inputs, string method, CircuitMetricKind kind, CircuitSearchOptions options,
        EffectGap gap, FaithfulnessResult faithfulness, IReadOnlyList<FaithfulnessResult> curve)
    {
        var summary = new JsonObject
        {
            ["model"] = model.Config.ModelName,
            ["method"] = method,
            ["ig_steps"] = options.Method == EdgeScoringMethod.Eap ? null : options.IgSteps,
            ["metric"] = MetricName(kind),
            ["selection"] = options.Greedy ? "greedy" : "topn",
            ["prompts"] = new JsonArray(inputs.Data.CleanTexts.Select(t => (JsonNode?)t).ToArray()),
            ["gap"] = gap.ToJson(),
        };
        Merge(summary, faithfulness.ToJson());
        summary["curve"] = new JsonArray(curve.Select(r => (JsonNode?)r.ToJson()).ToArray());
        return summary;
    }

    /// <summary>Adds every member of <paramref name="from"/> to <paramref name="into"/>.</summary>
    private static JsonObject Merge(JsonObject into, JsonObject from)
    {
        foreach (var (key, value) in from.ToList()) { from.Remove(key); into[key] = value; }
        return into;
    }

    private static JsonArray Numbers(float[] values) => new(values.Select(v => (JsonNode?)v).ToArray());

    private static void WriteCircuit(Circuit circuit, string path, JsonObject summary) =>
        CircuitJson.Write(circuit, path, new JsonObject { ["sharplens"] = summary });

    /// <summary>
    /// Why a circuit has fewer edges than asked: EAP-IG's prune drops selected edges that lie on no path from the input
    /// to the logits; with top-n selection, on a model whose strongest edges are scattered, that can be all of them.
    /// </summary>
    internal static string PrunedNote(int asked, int kept, bool greedy) =>
        $"note: {asked - kept} of the {asked} selected edges lie on no path from the input to the logits and were pruned (as EAP-IG prunes)"
        + (greedy ? "; ask for more --edges to reach further back" : "; --select greedy grows the circuit from the logits and keeps connected edges");
}
