using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies;

/// <summary>One reference figure compared with a run: the largest absolute deviation, or why it could not be compared.</summary>
public sealed record FigureDeviation(string Group, string Title, string? Analysis, string Status, double? MaxDeviation, string? Where, int Values)
{
    /// <summary>"ok", "exceeds", "not computed", "no mapping" or "shape mismatch".</summary>
    public bool Failed(double tolerance) => Status == "shape mismatch" || (MaxDeviation is double d && (d > tolerance || double.IsNaN(d)));
}

/// <summary>
/// Compares a run's results.json with a reference in the notebook JSON format (<c>figures: [{group, title, traces}]</c>, optionally
/// <c>notebook_printed</c>). Semantics: for each reference figure the largest |ours - reference| over all its values, in the figure's
/// own units (logits for attributions, the normalized score for patching). A run passes when every figure it computed is within the
/// tolerance; figures it did not compute are listed as "not computed" and fail only with requireAll; a shape mismatch always fails.
/// </summary>
public static class StudyVerify
{
    /// <summary>Notebook figure titles and the analysis path that holds each (plus how to read it).</summary>
    public static string? AnalysisFor(string title) => title switch
    {
        "Logit Difference From Accumulate Residual Stream" => StudyAnalyses.LogitLens,
        "Logit Difference From Each Layer" => StudyAnalyses.LayerAttribution,
        "Logit Difference From Each Head" => StudyAnalyses.HeadAttribution,
        "Logit Difference From Patched Residual Stream" => "patching/resid_pre",
        "Logit Difference From Patched Attention Layer" => "patching/attn_out",
        "Logit Difference From Patched MLP Layer" => "patching/mlp_out",
        "Logit Difference From Patched Head Output" => "patching/head_out",
        "Logit Difference From Patched Head Value" => "patching/head_v",
        "Logit Difference From Patched Head Pattern" => "patching/head_pattern",
        "Scatter plot of output patching vs value patching" => "patching/head_v+patching/head_out",
        "Scatter plot of output patching vs attention patching" => "patching/head_pattern+patching/head_out",
        _ when title.StartsWith("Logit Difference From Patched Neurons in MLP Layer ", StringComparison.Ordinal) =>
            $"{StudyAnalyses.NeuronPatching}#{title[^(title.Length - title.LastIndexOf(' ') - 1)..]}",
        _ => null,
    };

    public static IReadOnlyList<FigureDeviation> Compare(StudyResults results, JsonObject reference)
    {
        var list = new List<FigureDeviation>();
        if (reference["figures"] is not JsonArray figures)
            throw new InvalidInputException("the reference has no \"figures\" list: expected the notebook JSON format {\"figures\": [{\"group\", \"title\", \"traces\"}]}");
        foreach (var f in figures)
        {
            string group = f?["group"]?.ToString() ?? "", title = f?["title"]?.ToString() ?? "";
            var trace = f?["traces"]?[0];
            string? analysis = AnalysisFor(title);
            if (analysis is null) { list.Add(new(group, title, null, "no mapping", null, null, 0)); continue; }
            var expected = Flatten(trace, analysis.Contains('+'));
            var ours = Ours(results, group, analysis);
            if (ours is null) { list.Add(new(group, title, analysis, "not computed", null, null, expected.Count)); continue; }
            list.Add(Deviation(group, title, analysis, ours, expected));
        }
        if (reference["notebook_printed"] is JsonObject printed)
        {
            string exp1 = reference["groups"] is JsonObject gs ? gs.FirstOrDefault(kv => kv.Value?["experiment"]?.ToString() == "1").Key ?? "re_they" : "re_they";
            if (printed["exp1_logit_diff_per_prompt"] is JsonArray e1)
                list.Add(Printed(results, exp1, "logit difference per prompt (printed)", Nums(e1)));
            if (printed["exp2_logit_diff_per_prompt"] is JsonObject e2)
                foreach (var (g, v) in e2) list.Add(Printed(results, g, "logit difference per prompt (printed)", Nums((JsonArray)v!)));
        }
        return list;
    }

    private static FigureDeviation Printed(StudyResults results, string group, string title, List<double> expected)
    {
        var ours = results.Get(group, StudyAnalyses.ModelCheck)?["clean_per_prompt"] is JsonArray a ? Nums(a) : null;
        return ours is null ? new(group, title, StudyAnalyses.ModelCheck, "not computed", null, null, expected.Count)
            : Deviation(group, title, StudyAnalyses.ModelCheck, ours, expected);
    }

    private static FigureDeviation Deviation(string group, string title, string analysis, List<double> ours, List<double> expected)
    {
        if (ours.Count != expected.Count)
            return new(group, title, analysis, "shape mismatch", null, $"{ours.Count} values here, {expected.Count} in the reference", expected.Count);
        double max = 0; int at = 0;
        for (int i = 0; i < ours.Count; i++)
        {
            double d = Math.Abs(ours[i] - expected[i]);
            if (double.IsNaN(d) || d > max) { max = double.IsNaN(d) ? double.NaN : d; at = i; if (double.IsNaN(d)) break; }
        }
        return new(group, title, analysis, "compared", max, $"value {at}", ours.Count);
    }

    /// <summary>Our values for an analysis path, flattened row-major (scatters: x values then y values).</summary>
    private static List<double>? Ours(StudyResults results, string group, string analysis)
    {
        if (analysis.Contains('+'))
        {
            var parts = analysis.Split('+');
            var x = results.GridAt(group, parts[0]); var y = results.GridAt(group, parts[1]);
            return x is null || y is null ? null : [.. x.Values.Data.Select(v => (double)v), .. y.Values.Data.Select(v => (double)v)];
        }
        if (analysis.Contains('#'))
        {
            var parts = analysis.Split('#');
            var grid = results.GridAt(group, parts[0]);
            int row = grid?.Rows.ToList().IndexOf(parts[1]) ?? -1;
            return grid is null || row < 0 ? null : Enumerable.Range(0, grid.Cols.Count).Select(c => (double)grid[row, c]).ToList();
        }
        return results.GridAt(group, analysis)?.Values.Data.Select(v => (double)v).ToList();
    }

    private static List<double> Flatten(JsonNode? trace, bool scatter)
    {
        if (trace is null) return [];
        if (scatter) return [.. Nums(trace["x"] as JsonArray), .. Nums(trace["y"] as JsonArray)];
        if (trace["z"] is JsonArray z) return z.SelectMany(r => Nums(r as JsonArray)).ToList();
        return Nums(trace["y"] as JsonArray);
    }

    private static List<double> Nums(JsonArray? a) => a?.Select(v => v is null ? double.NaN : v.GetValue<double>()).ToList() ?? [];

    /// <summary>A reference file (notebook format) holding this run's own values for every mappable figure (for self-checks and as a template).</summary>
    public static JsonObject ToReference(StudyResults results)
    {
        var figures = new JsonArray();
        string[] titles =
        [
            "Logit Difference From Accumulate Residual Stream", "Logit Difference From Each Layer", "Logit Difference From Each Head",
            "Logit Difference From Patched Residual Stream", "Logit Difference From Patched Attention Layer", "Logit Difference From Patched MLP Layer",
            "Logit Difference From Patched Head Output", "Logit Difference From Patched Head Value", "Logit Difference From Patched Head Pattern",
            "Scatter plot of output patching vs value patching", "Scatter plot of output patching vs attention patching",
        ];
        foreach (var (group, _) in results.Groups)
        {
            var all = titles.ToList();
            if (results.GridAt(group, StudyAnalyses.NeuronPatching) is Grid n)
                all.AddRange(n.Rows.Select(r => $"Logit Difference From Patched Neurons in MLP Layer {r}"));
            foreach (var title in all)
            {
                string analysis = AnalysisFor(title)!;
                var values = Ours(results, group, analysis);
                if (values is null) continue;
                JsonObject trace;
                if (analysis.Contains('+'))
                {
                    int half = values.Count / 2;
                    trace = new JsonObject { ["type"] = "scatter", ["x"] = Arr(values.Take(half)), ["y"] = Arr(values.Skip(half)) };
                }
                else if (!analysis.Contains('#') && results.GridAt(group, analysis) is Grid g && g.Rows.Count > 1)
                {
                    var z = new JsonArray();
                    for (int r = 0; r < g.Rows.Count; r++) z.Add(Arr(values.Skip(r * g.Cols.Count).Take(g.Cols.Count)));
                    trace = new JsonObject { ["type"] = "heatmap", ["z"] = z };
                }
                else trace = new JsonObject { ["type"] = "scatter", ["y"] = Arr(values) };
                figures.Add(new JsonObject { ["group"] = group, ["title"] = title, ["traces"] = new JsonArray(trace) });
            }
        }
        return new JsonObject { ["source"] = $"sharplens study run of '{results.Root["study"]}' on {results.Model}", ["figures"] = figures };
    }

    private static JsonArray Arr(IEnumerable<double> v) => new(v.Select(x => (JsonNode?)x).ToArray());
}
