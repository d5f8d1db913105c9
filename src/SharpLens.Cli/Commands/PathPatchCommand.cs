using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using SharpLens.Circuits;
using SharpLens.Reports;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens path-patch</c>: path patching (Wang et al.). With --senders, those senders together into the receivers;
/// without, every head and MLP as a single sender (a layer x head grid).
/// </summary>
internal static class PathPatchCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var input = CircuitCommand.InputOption();
        var metric = CircuitCommand.MetricOption();
        var senders = new Option<string?>("--senders") { Description = "Comma-separated senders, e.g. a5.h1,m4 (heads also as L5H1; default: sweep every head and MLP one at a time)" };
        var receivers = new Option<string>("--receivers") { Description = "Comma-separated receivers: a7.h11<v>, a7.h11<q>, a7.h11<k> (or L7H11<v>, ...), m8 or logits", Required = true };
        var freezeMlps = new Option<bool>("--freeze-mlps") { Description = "Freeze MLPs too, so only the direct sender->receiver edges count (without it MLPs are recomputed, as in IOI)" };
        var json = OutputPaths.File(new Option<string>("--json") { Description = "Where to write the results JSON", Required = true });
        var plot = OutputPaths.Folder(new Option<string?>("--plot") { Description = "Also render the sweep grid as a report into this folder" });
        var command = new Command("path-patch", "Path patching: senders patched from the corrupted run, effect only through the receivers")
        {
            model, raw, input, metric, senders, receivers, freezeMlps, json, plot,
        };
        command.SetAction(parse =>
        {
            var kind = CircuitCommand.ParseMetric(parse.GetValue(metric)!);
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            var graph = CircuitGraph.For(lm);
            // Names are checked against the graph before the model runs, and written back in EAP-IG's form.
            var receiverNodes = ComponentNames.SplitList(parse.GetValue(receivers) ?? "").Select(graph.RequireDownstream).ToList();
            if (receiverNodes.Count == 0) throw new InvalidInputException("--receivers needs at least one receiver, e.g. 'a7.h11<v>' or logits");
            var senderNames = ComponentNames.SplitList(parse.GetValue(senders) ?? "").Select(s => graph.RequireUpstream(s).Name).ToArray();
            var inputs = CircuitCommand.LoadInputs(lm, parse.GetValue(input)!, kind);
            var patcher = new PathPatcher(lm, inputs.Patching);
            bool freeze = parse.GetValue(freezeMlps);
            var result = new JsonObject
            {
                ["model"] = lm.Config.ModelName,
                ["receivers"] = new JsonArray(receiverNodes.Select(r => (JsonNode?)r.InputName).ToArray()),
                ["freeze_mlps"] = freeze,
                ["clean_metric"] = patcher.CleanPerPrompt.Average(),
                ["corrupted_metric"] = patcher.CorruptedPerPrompt.Average(),
            };
            string into = string.Join(", ", receiverNodes.Select(r => r.InputName));
            if (senderNames.Length > 0)
            {
                var (s, r) = patcher.Parse(senderNames, receiverNodes.Select(n => n.InputName));
                var run = patcher.Run(s, r, freeze);
                result["senders"] = new JsonArray(senderNames.Select(n => (JsonNode?)n).ToArray());
                result["patched_metric"] = run.PerPrompt.Average();
                result["patched_per_prompt"] = new JsonArray(run.PerPrompt.Select(v => (JsonNode?)v).ToArray());
                result["normalized"] = run.Normalized;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{string.Join(",", senderNames)} -> {into}: metric {run.PerPrompt.Average():0.####} (clean {patcher.CleanPerPrompt.Average():0.####}, corrupted {patcher.CorruptedPerPrompt.Average():0.####}), normalized {run.Normalized:0.####}"));
            }
            else
            {
                var grid = patcher.SweepSenders(receiverNodes, freeze);
                result["senders"] = "every head and MLP, one at a time";
                result["grid"] = grid.ToJson();
                var best = Enumerable.Range(0, grid.Rows.Count * grid.Cols.Count).MaxBy(i => MathF.Abs(grid[i / grid.Cols.Count, i % grid.Cols.Count]));
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"strongest sender into {into}: layer {grid.Rows[best / grid.Cols.Count]}, {grid.Cols[best % grid.Cols.Count]} ({grid[best / grid.Cols.Count, best % grid.Cols.Count]:0.####} of the clean-corrupted gap)"));
                if (parse.GetValue(plot) is string dir)
                {
                    var report = new Report($"Path patching into {into}") { Model = lm.Config.ModelName, Kind = "path-patch" };
                    report.AddFigure(HeatmapFigure.FromGrid(grid), "(patched − clean) / (clean − corrupted) with each sender alone patched; −1 = the whole effect.");
                    Cli.Err.MarkupLine($"report: {Markup.Escape(report.Write(dir))}");
                }
            }
            Cli.WriteAtomic(parse.GetValue(json)!, result.ToJsonString(Cli.Json));
            return 0;
        });
        return command;
    }
}
