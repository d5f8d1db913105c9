using System.Globalization;
using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies;

/// <summary>A claim of the original study checked against this run: held, did not hold, or not computed.</summary>
public sealed record ClaimCheck(StudyClaim Claim, string Status, string Observed);

/// <summary>Findings computed from a run's numbers (never hard-coded): top heads, layers, neurons and the claims' status.</summary>
public static class Findings
{
    public static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Heads sorted by value (descending): "L7H11".</summary>
    public static List<(string Name, float Value)> RankHeads(Grid heads) =>
        Enumerable.Range(0, heads.Rows.Count * heads.Cols.Count)
            .Select(i => ($"L{heads.Rows[i / heads.Cols.Count]}H{heads.Cols[i % heads.Cols.Count]}", heads.Values.Data[i]))
            .OrderByDescending(x => x.Item2).ToList();

    public static List<(string Name, float Value)> RankCols(Grid row) =>
        row.Cols.Select((c, i) => (c, row.Values.Data[i])).OrderByDescending(x => x.Item2).ToList();

    public static ClaimCheck Check(StudyClaim claim, StudyResults results)
    {
        string g = claim.Group;
        string expect = string.Join(", ", claim.Expect);
        ClaimCheck NotComputed(string what) => new(claim, "not computed", $"{what} was not computed for {g}");
        ClaimCheck Judge(bool held, string observed) => new(claim, held ? "held" : "did not hold", observed);
        switch (claim.Kind)
        {
            case "top_positive_head" or "top_negative_head" or "top_patching_head":
            {
                var grid = results.GridAt(g, claim.Kind == "top_patching_head" ? "patching/head_out" : StudyAnalyses.HeadAttribution);
                if (grid is null) return NotComputed(claim.Kind == "top_patching_head" ? "head output patching" : "head attribution");
                var ranked = RankHeads(grid);
                var pick = claim.Kind == "top_negative_head" ? ranked[^1] : ranked[0];
                return Judge(claim.Expect.Contains(pick.Name), $"{pick.Name} ({F(pick.Value)}); expected {expect}");
            }
            case "top_layer":
            {
                var grid = results.GridAt(g, StudyAnalyses.LayerAttribution);
                if (grid is null) return NotComputed("layer attribution");
                var top = RankCols(grid)[0];
                return Judge(claim.Expect.Contains(top.Name), $"{top.Name} ({F(top.Value)}); expected {expect}");
            }
            case "top_neurons":
            {
                if (results.Get(g, StudyAnalyses.NeuronPatching)?["top"] is not JsonArray top) return NotComputed("neuron patching");
                var names = top.Take(claim.Expect.Count).Select(t => t!["name"]!.ToString()).ToList();
                return Judge(claim.Expect.All(names.Contains),
                    $"top by |effect|: {string.Join(", ", top.Select(t => $"{t!["name"]} ({F(t["effect"]!.GetValue<double>())})"))}; expected {expect}");
            }
            case "clean_logit_diff_positive":
            {
                if (results.Get(g, StudyAnalyses.ModelCheck)?["clean_logit_diff"] is not JsonNode v) return NotComputed("the model check");
                double d = v.GetValue<double>();
                return Judge(d > 0, $"mean clean logit difference {F(d)}");
            }
            default: return new(claim, "not computed", $"unknown claim kind {claim.Kind}");
        }
    }

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
