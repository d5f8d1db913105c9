using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Reports;

/// <summary>
/// Renders every <see cref="Grid"/> found in an analysis result JSON into a report (used by <c>sharplens plot RESULT.json --out DIR</c>).
/// The result is a JSON object whose values are grids, objects of grids (one level of group names: drawn as small multiples
/// with a shared colour scale), or scalars such as "clean_logit_diff" (shown in a table). A string "model", a string array
/// "prompts" and an object "settings"/"config" of scalars are shown as the report's model, prompts and settings.
/// </summary>
public static class GridPlotter
{
    /// <summary>
    /// Writes the report for <paramref name="resultJsonPath"/> into <paramref name="outDir"/>; returns the index.html path.
    /// <paramref name="kind"/> is the command the run index lists it under ("plot", or "attribute"/"patch" for their --plot).
    /// </summary>
    /// <exception cref="InvalidInputException">The file is not JSON, or holds no result grid (e.g. an analysis input).</exception>
    public static string FromResultJson(string resultJsonPath, string outDir, bool staticImages = true, string kind = "plot")
    {
        var root = InputFiles.ReadJson(resultJsonPath, "result file", "pass a JSON written by sharplens attribute, patch or study run") as JsonObject
            ?? throw new InvalidInputException($"{resultJsonPath} is not a result (not a JSON object of grids): pass a JSON written by sharplens attribute, patch or study run");
        // Refuse what is not a result before writing anything: a report of only scalars (an analysis input's prompts and
        // answers, a study file) is a wrong file, not a result.
        bool HoldsGrids(JsonNode? node) => node is not null && (IsGrid(node) || node is JsonObject group && group.Any(kv => kv.Value is not null && IsGrid(kv.Value)));
        if (!root.Any(kv => HoldsGrids(kv.Value)))
            throw new InvalidInputException(root.ContainsKey("clean") && root.ContainsKey("answers")
                ? $"{resultJsonPath} is an analysis input (clean, corrupted, answers), not a result: run `sharplens attribute` or `sharplens patch` with --input {resultJsonPath} --json RESULT.json, then plot RESULT.json"
                : root.ContainsKey("study_hash") ? $"{resultJsonPath} is a study's results.json without comparison grids: its report is the index.html that `sharplens study run` wrote next to it"
                : $"{resultJsonPath} holds no result grids (it has {string.Join(", ", root.Select(kv => kv.Key).Take(6))}): pass a JSON written by sharplens attribute, patch or study run");
        var report = InputFiles.Interpret($"result file '{resultJsonPath}'", () => BuildReport(root, Path.GetFileNameWithoutExtension(resultJsonPath), resultJsonPath));
        report.StaticImages = staticImages;
        report.Kind = kind;
        return report.Write(outDir);
    }

    /// <summary>The report for a parsed result object; <paramref name="source"/> names it in messages about a malformed grid.</summary>
    public static Report BuildReport(JsonObject root, string title, string source = "result")
    {
        var report = new Report(root["title"] is JsonValue tv && tv.GetValueKind() == JsonValueKind.String ? tv.ToString() : title);
        var scalars = new List<string[]>();
        var figures = new List<(Figure Fig, string Caption)>();
        foreach (var (key, node) in root)
        {
            if (node is null || key == "title") continue;
            if (key == "model" && node is JsonValue mv) { report.Model = mv.ToString(); continue; }
            if (key == "prompts" && node is JsonArray pa && pa.All(p => p is JsonValue)) { report.AddPrompts(pa.Select(p => p!.ToString())); continue; }
            if ((key == "settings" || key == "config") && node is JsonObject so && so.All(kv => kv.Value is not JsonObject))
            {
                foreach (var (k, v) in so) report.Set(k, v is JsonValue ? v.ToString() : v?.ToJsonString());
                continue;
            }
            if (IsGrid(node))
            {
                var g = Grid.FromJson(node, $"{source}: {key}");
                figures.AddRange(GridFigures(g, key));
            }
            else if (node is JsonObject group && group.Any(kv => kv.Value is not null && IsGrid(kv.Value)))
            {
                var grids = new List<KeyValuePair<string, Grid>>();
                foreach (var (gk, gv) in group)
                {
                    if (gv is not null && IsGrid(gv)) grids.Add(new(gk, Grid.FromJson(gv, $"{source}: {key}.{gk}")));
                    else if (gv is JsonValue sv) scalars.Add(new[] { key + "." + gk, Scalar(sv) });
                }
                foreach (var shape in grids.GroupBy(g => (g.Value.Rows.Count, g.Value.Cols.Count)))
                {
                    var sm = SmallMultiplesFigure.FromGrids(shape, key);
                    sm.Columns = shape.Count() <= 4 ? shape.Count() : 3;
                    figures.Add((sm, $"{key}: {string.Join(", ", shape.Select(g => g.Key))} (shared colour scale)"));
                }
            }
            else if (node is JsonValue v) scalars.Add(new[] { key, Scalar(v) });
            else if (node is JsonArray arr && arr.All(x => x is JsonValue)) scalars.Add(new[] { key, arr.ToJsonString() });
        }
        if (scalars.Count > 0) report.AddTable("Scalars", new[] { "name", "value" }, scalars);
        foreach (var (fig, caption) in figures) report.AddFigure(fig, caption);
        return report;
    }

    // Like the study's notebook: one-row results (logit lens, per-layer attribution, a layer's neurons) and very wide
    // grids are lines; the rest are heatmaps. Confidence-interval bars only where there are few enough to read.
    const int MaxHeatmapCols = 64;

    /// <summary>The figures a report draws for grid <paramref name="g"/> stored under <paramref name="key"/>, each with its caption.</summary>
    public static IEnumerable<(Figure Figure, string Caption)> GridFigures(Grid g, string key)
    {
        string size = $"{key} ({g.Rows.Count} x {g.Cols.Count}" + (g.PerPrompt is null ? ")" : $", mean over {g.PerPrompt.Dim(0)} prompts)");
        if (g.Rows.Count == 1 || g.Cols.Count > MaxHeatmapCols)
            yield return (LineFigure.FromGridRows(g, g.Title ?? key), size);
        else
            yield return (HeatmapFigure.FromGrid(g, g.Title ?? key), size);
        if (g.Rows.Count == 1 && g.PerPrompt is not null && g.Cols.Count <= MaxHeatmapCols)
            yield return (BarFigure.FromGridRow(g, 0, (g.Title ?? key) + " (95% CI)"), $"{key}: mean with 95% confidence intervals over prompts");
    }

    static string Scalar(JsonValue v) => v.GetValueKind() == JsonValueKind.Number ? Fmt.Num(v.GetValue<double>(), 6) : v.ToString();

    /// <summary>True for an object with "values", "rows" and "cols".</summary>
    public static bool IsGrid(JsonNode node) => node is JsonObject o && o["values"] is JsonArray && o["rows"] is JsonArray && o["cols"] is JsonArray;
}
