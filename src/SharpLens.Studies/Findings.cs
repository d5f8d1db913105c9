using System.Globalization;
using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies;

/// <summary>Findings computed from a run's numbers (never hard-coded): top heads, layers and neurons (claims: <see cref="ClaimChecks"/>).</summary>
internal static class Findings
{
    public static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Up to six decimals: small patching scores and deviations stay readable.</summary>
    public static string F6(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);

    /// <summary>Heads of a [layer, head] grid sorted by value (descending): "L7H11".</summary>
    public static List<(string Name, float Value)> RankHeads(Grid heads) =>
        Enumerable.Range(0, heads.Rows.Count * heads.Cols.Count)
            .Select(i => (new HeadId(i / heads.Cols.Count, i % heads.Cols.Count).ToString(), heads.Values.Data[i]))
            .OrderByDescending(x => x.Item2).ToList();

    public static List<(string Name, float Value)> RankCols(Grid row) =>
        row.Cols.Select((c, i) => (c, row.Values.Data[i])).OrderByDescending(x => x.Item2).ToList();

    /// <summary>One bullet per group: its top heads, layers and neurons.</summary>
    public static List<string> Summaries(StudyResults results, Study study)
    {
        var lines = new List<string>();
        foreach (var group in study.Groups)
        {
            var parts = new List<string>();
            string g = group.Name;
            if (results.Get(g, StudyAnalyses.ModelCheck) is JsonObject mc)
                parts.Add($"logit difference {F(mc["clean_logit_diff"]!.GetValue<double>())} clean, {F(mc["corrupted_logit_diff"]!.GetValue<double>())} corrupted");
            if (results.GridAt(g, StudyAnalyses.HeadAttribution) is Grid heads)
            {
                var r = RankHeads(heads);
                parts.Add($"top heads (direct attribution) {string.Join(", ", r.Take(3).Select(x => $"{x.Name} {F(x.Value)}"))}; most negative {r[^1].Name} {F(r[^1].Value)}");
            }
            if (results.GridAt(g, StudyAnalyses.LayerAttribution) is Grid layers)
                parts.Add($"top components {string.Join(", ", RankCols(layers).Take(3).Select(x => $"{x.Name} {F(x.Value)}"))}");
            if (results.GridAt(g, "patching/head_out") is Grid ho)
                parts.Add($"top heads by output patching {string.Join(", ", RankHeads(ho).Take(3).Select(x => $"{x.Name} {F(x.Value)}"))}");
            if (results.Get(g, StudyAnalyses.NeuronPatching)?["top"] is JsonArray top && top.Count > 0)
                parts.Add($"top neurons by |patching effect| {string.Join(", ", top.Select(t => $"{t!["name"]} {F(t["effect"]!.GetValue<double>())}"))}");
            if (parts.Count > 0) lines.Add($"{g}: {string.Join("; ", parts)}.");
        }
        return lines;
    }
}
