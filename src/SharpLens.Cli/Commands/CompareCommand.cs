using System.CommandLine;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Statistics;
using Spectre.Console;
using Grid = SharpLens.Analysis.Grid;

namespace SharpLens.Cli.Commands;

/// <summary>
/// <c>sharplens compare A.json B.json --key heads</c>: is a component more important in one group of prompts than in
/// another? A permutation test per cell on the per-prompt values, corrected across cells, with bootstrap intervals.
/// </summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var a = new Argument<string>("a") { Description = "First result JSON (from attribute or patch)" };
        var b = new Argument<string>("b") { Description = "Second result JSON (from attribute or patch)" };
        var key = new Option<string>("--key", "-k") { Description = "Which result to compare, e.g. heads, layers, resid_pre, head_out", Required = true };
        var paired = new Option<bool>("--paired") { Description = "The two files measure the same prompts (sign-flip test); without it they are different prompts (label shuffling)" };
        var correction = new Option<string>("--correction") { Description = "Multiple-comparison correction across cells: holm, bh (Benjamini-Hochberg) or none", DefaultValueFactory = _ => "holm" };
        correction.AcceptOnlyFromAmong("holm", "bh", "none");
        var alpha = new Option<double>("--alpha") { Description = "Significance level a corrected p-value must be below", DefaultValueFactory = _ => 0.05 };
        var permutations = new Option<int>("--permutations") { Description = "Random permutations per cell (more: finer p-values, slower)", DefaultValueFactory = _ => 10000 };
        var top = new Option<int>("--top") { Description = "Rows of the table to print", DefaultValueFactory = _ => 20 };
        var json = OutputPaths.File(new Option<string?>("--json") { Description = "Write every cell's comparison here" });
        var command = new Command("compare", "Test which components differ between two groups of prompts (permutation test, corrected p-values, bootstrap CIs)")
            { a, b, key, paired, correction, alpha, permutations, top, json };
        command.SetAction(parse =>
        {
            string k = parse.GetValue(key)!;
            var gridA = Load(parse.GetValue(a)!, k);
            var gridB = Load(parse.GetValue(b)!, k);
            var result = GroupComparison.Compare(gridA, gridB, parse.GetValue(paired),
                parse.GetValue(correction) switch { "bh" => Correction.BenjaminiHochberg, "none" => Correction.None, _ => Correction.Holm },
                parse.GetValue(alpha), parse.GetValue(permutations));
            var table = new Table().AddColumns("row", "col", "mean A", "mean B", "diff", "95% CI", "p", "p adj", "");
            foreach (var c in result.Cells.Take(parse.GetValue(top)))
                table.AddRow(Markup.Escape(c.Row), Markup.Escape(c.Col), c.MeanA.ToString("F3"), c.MeanB.ToString("F3"), c.Diff.ToString("F3"),
                    Markup.Escape($"[{c.DiffLower:F3}, {c.DiffUpper:F3}]"), c.PValue.ToString("G3"), c.PAdjusted.ToString("G3"), c.Significant ? "[green]*[/]" : "");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"{result.Significant.Count()} of {result.Cells.Count} cells differ at alpha {result.Alpha} after {result.Correction} correction");
            if (parse.GetValue(json) is string path)
            {
                var cells = new JsonArray(result.Cells.Select(c => (JsonNode?)new JsonObject
                {
                    ["row"] = c.Row, ["col"] = c.Col, ["mean_a"] = c.MeanA, ["mean_b"] = c.MeanB, ["diff"] = c.Diff,
                    ["diff_lower"] = c.DiffLower, ["diff_upper"] = c.DiffUpper, ["p"] = c.PValue, ["p_adjusted"] = c.PAdjusted, ["significant"] = c.Significant,
                }).ToArray());
                Cli.WriteAtomic(path, new JsonObject { ["key"] = k, ["paired"] = result.Paired, ["correction"] = result.Correction.ToString(), ["cells"] = cells }.ToJsonString(Cli.Json));
            }
            return 0;
        });
        return command;
    }

    private static Grid Load(string path, string key)
    {
        var root = InputFiles.ReadJson(path, "result file", "pass a JSON written by sharplens attribute or patch") as JsonObject
            ?? throw new InvalidInputException($"{path} is not a JSON object of results");
        if (root[key] is not JsonObject node || node["values"] is null)
            throw new InvalidInputException($"{path} has no result '{key}': it has {string.Join(", ", root.Where(p => p.Value is JsonObject o && o["values"] is not null).Select(p => p.Key))}");
        var grid = Grid.FromJson(node, $"{path}: {key}");
        if (grid.PerPrompt is null) throw new InvalidInputException($"result '{key}' in {path} has no per_prompt values: statistics need one value per prompt");
        if (Array.FindIndex(grid.PerPrompt.Data, v => !float.IsFinite(v)) is int bad and >= 0)
            throw new InvalidInputException($"result '{key}' in {path} holds a non-finite per-prompt value ({grid.PerPrompt.Data[bad]}): statistics need finite values; drop or fix such prompts");
        return grid;
    }
}
