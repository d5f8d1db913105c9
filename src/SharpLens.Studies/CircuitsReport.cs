using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Circuits;
using SharpLens.Reports;

namespace SharpLens.Studies;

/// <summary>The report pages of <see cref="CircuitsSection"/>: circuits, curves, overlap and cross-faithfulness, path patching, OV view.</summary>
public static class CircuitsReport
{
    /// <summary>Adds the circuits section of results.json to <paramref name="report"/>.</summary>
    public static void Add(Report report, JsonObject section)
    {
        var st = section["settings"]!;
        report.AddSection("Circuits",
            $"For every pairing: an {st["method"]} circuit ({st["steps"]} steps) of up to {st["edges"]} edges grown greedily " +
            "from the logits, its faithfulness ((metric with only the circuit clean − corrupted) / (clean − corrupted), exact edge patching, " +
            "bootstrap 95% CI over the group's prompts) and the faithfulness curve over circuit sizes. Then the comparison the study asked for: " +
            "edge and node overlap (Jaccard) between the groups' circuits, and cross-faithfulness (the circuit found on the row's pairing " +
            "evaluated on the column's pairing), drawn on one colour scale. Circuit files (EAP-IG graph JSON) are in circuits/.");
        var names = section["names"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        foreach (var name in names)
        {
            var g = section["groups"]![name]!;
            var circuit = CircuitsSection.CircuitOf(section, name);
            var faith = FaithfulnessResult.FromJson(g["faithfulness"], $"circuits.groups.{name}.faithfulness");
            var curve = g["curve"]!.AsArray().Select((c, i) => FaithfulnessResult.FromJson(c, $"circuits.groups.{name}.curve[{i}]")).ToList();
            CircuitReport.Add(report, name, circuit, faith, curve);
        }
        var matrices = new[] { ("edge_overlap", "Edge overlap (Jaccard)"), ("node_overlap", "Node overlap (Jaccard, heads and MLPs)"),
            ("cross_faithfulness", "Cross-faithfulness (row's circuit on column's pairing; blank: undecided)") };
        var values = matrices.Select(m => Matrix(section[m.Item1]!.AsArray())).ToList();
        var finite = values.SelectMany(v => v.Cast<double>()).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
        double lo = Math.Min(0, finite.Min()), hi = Math.Max(1, finite.Max());
        for (int i = 0; i < matrices.Length; i++)
            report.AddFigure(new HeatmapFigure(values[i], names, names)
            {
                Title = matrices[i].Item2, YTitle = "circuit of", XTitle = "evaluated on / compared with", ZMin = -Math.Max(-lo, hi), ZMax = Math.Max(-lo, hi),
                ColorbarTitle = "fraction",
            }, matrices[i].Item2 + "; the three matrices share one colour scale.");
        if (section["path_patching"] is JsonObject path)
            foreach (var (receiver, grid) in path)
                report.AddFigure(HeatmapFigure.FromGrid(Grid.FromJson(grid!), $"Path patching into {receiver} ({st["path_group"]})"),
                    $"Each head or MLP alone patched from the corrupted run, effect only through {receiver}: (patched − clean) / (clean − corrupted); −1 = the whole effect.");
        if (section["ov"] is JsonObject ov) report.AddSection($"Weights of head {ov["head"]}: OV circuit and the bigram path", OvText(ov));
    }

    // The copying score, what the head writes when it attends to each token, and the direct bigram preference of each source.
    private static string OvText(JsonObject ov)
    {
        static string F(JsonNode? n) => n!.GetValue<double>().ToString("0.###", CultureInfo.InvariantCulture);
        static string Tokens(JsonNode? list) => string.Join(", ", list!.AsArray().Take(5).Select(t => JsonSerializer.Serialize(t!["token"]?.ToString() ?? t["id"]!.ToString())));
        var lines = new List<string>
        {
            $"Copying score {F(ov["copying"]!["score"])} (positive share of the full OV circuit's eigenvalues, as in A Mathematical Framework; 1 = pure copying).",
        };
        foreach (var r in ov["readouts"]!.AsArray())
            lines.Add($"Attending to {JsonSerializer.Serialize(r!["source"]?.ToString() ?? r["source_id"]!.ToString())} it writes most for {Tokens(r["top"])}; least for {Tokens(r["bottom"])}.");
        foreach (var b in ov["bigrams"]!.AsArray())
            lines.Add($"Bigram path ({b!["via"]}): {JsonSerializer.Serialize(b["source"]?.ToString() ?? b["source_id"]!.ToString())} alone gives logit difference {F(b["logit_diff"])} (first answer − second).");
        return string.Join("\n\n", lines);
    }

    private static double[,] Matrix(JsonArray rows)
    {
        int r = rows.Count, c = rows[0]!.AsArray().Count;
        var m = new double[r, c];
        // null cells (undecided) are NaN: drawn blank.
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m[i, j] = rows[i]![j] is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;
        return m;
    }
}
