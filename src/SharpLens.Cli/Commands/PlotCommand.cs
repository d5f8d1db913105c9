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
        var output = new Option<string>("--out", "-o") { Description = "Output folder for the report and figures", Required = true };
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

    internal static string Render(string resultPath, string outDir) => GridPlotter.FromResultJson(resultPath, outDir);
}
