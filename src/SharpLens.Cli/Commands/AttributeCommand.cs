using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Inputs;
using SharpLens.Model;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens attribute</c>: direct logit attribution of the logit difference (logit lens, layers, heads, top neurons).</summary>
internal static class AttributeCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var input = new Option<string>("--input", "-i") { Description = "Input JSON: clean, corrupted, answers", Required = true };
        var json = OutputPaths.File(new Option<string>("--json") { Description = "Where to write the results JSON", Required = true });
        var topNeurons = new Option<int>("--top-neurons") { Description = "How many neurons to keep", DefaultValueFactory = _ => 20 };
        var plot = OutputPaths.Folder(new Option<string?>("--plot") { Description = "Also render the results as a report into this folder" });
        var command = new Command("attribute", "Direct logit attribution of the clean logit difference") { model, raw, input, json, topNeurons, plot };
        command.SetAction(parse =>
        {
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw));
            var data = AnalysisInput.Load(parse.GetValue(input)!, lm, requireAlignedLengths: false);
            var result = Run(lm, data, parse.GetValue(topNeurons));
            result["settings"] = new JsonObject { ["command"] = "attribute", ["raw_weights"] = parse.GetValue(raw), ["input"] = parse.GetValue(input) };
            PlotCommand.WriteResult(result, parse.GetValue(json)!, parse.GetValue(plot), "attribute");
            return 0;
        });
        return command;
    }

    public static JsonObject Run(HookedTransformer model, AnalysisInput data, int topNeurons) =>
        AnalysisResult.Attribute(model, data, topNeurons, out _);
}
