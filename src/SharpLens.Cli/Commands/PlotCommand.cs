using System.CommandLine;
using SharpLens.Reports;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens plot RESULT.json --out DIR</c>: renders every result in a saved JSON as figures and a report.</summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var result = new Argument<string>("result") { Description = "Result JSON written by attribute, patch or study run" };
        var output = OutputPaths.Folder(new Option<string>("--out", "-o") { Description = "Output folder for the report and figures", Required = true });
        var command = new Command("plot", "Render a saved result JSON into an HTML report with PNG/SVG/CSV figures") { result, output };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(result)!;
            if (!File.Exists(path)) throw new InvalidInputException($"result file {path} does not exist: pass a JSON written by sharplens attribute or patch");
            string index = Render(path, parse.GetValue(output)!);
            Cli.Err.MarkupLine($"report: {Markup.Escape(index)}");
            return 0;
        });
        return command;
    }

    /// <summary><c>sharplens index DIR</c>: an index page of every report folder under DIR.</summary>
    public static Command CreateIndex()
    {
        var root = new Argument<string>("dir") { Description = "Folder whose sub-folders hold reports (e.g. reports/)" };
        var command = new Command("index", "Write DIR/index.html listing the runs (reports) under DIR") { root };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(root)!;
            if (!Directory.Exists(dir)) throw new InvalidInputException($"folder {dir} does not exist: pass the folder that holds your report folders");
            Cli.Err.MarkupLine($"index: {Markup.Escape(RunIndex.Write(dir, warn: m => Cli.Err.MarkupLine($"[yellow]warning:[/] {Markup.Escape(m)}")))}");
            return 0;
        });
        return command;
    }

    /// <summary>Writes an analysis result atomically, reports its baselines, and renders it when <paramref name="plotDir"/> is given.</summary>
    internal static void WriteResult(System.Text.Json.Nodes.JsonObject result, string outPath, string? plotDir, string kind)
    {
        Cli.WriteAtomic(outPath, result.ToJsonString(Cli.Json));
        Cli.Err.MarkupLine($"clean logit diff {result["clean_logit_diff"]}, corrupted {result["corrupted_logit_diff"]}; wrote {Markup.Escape(outPath)}");
        if (plotDir is not null) Cli.Err.MarkupLine($"report: {Markup.Escape(Render(outPath, plotDir, kind))}");
    }

    internal static string Render(string resultPath, string outDir, string kind = "plot") => GridPlotter.FromResultJson(resultPath, outDir, kind: kind);
}
