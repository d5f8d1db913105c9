using System.Text.Json.Nodes;
using SharpLens.Analysis;
using static SharpLens.Studies.Findings;

namespace SharpLens.Studies;

/// <summary>A claim checked against a run: its criterion in words, "held", "not held" or "not computed", and the numbers seen.</summary>
public sealed record ClaimCheck(StudyClaim Claim, string Status, string Criterion, string Observed);

/// <summary>
/// Checks the original study's claims on a run's numbers, each with a stated criterion and independently of how close
/// the numbers are to the reference (verify checks that separately). Kinds:
/// <list type="bullet">
/// <item>top_positive_head / top_negative_head: the head with the largest (most negative) direct logit attribution is one of expect;</item>
/// <item>top_patching_head: the head whose output patching restores the most is one of expect;</item>
/// <item>top_layer: the component with the largest direct attribution is one of expect (fragile when two components are close: prefer top_components);</item>
/// <item>top_components: the N largest components by direct attribution are exactly expect (N of them, any order);</item>
/// <item>head_rank: expect's head is number "rank" (1-based) by direct attribution;</item>
/// <item>value_over_pattern: patching expect's head's values restores more than patching its attention pattern;</item>
/// <item>top_neurons: each neuron of expect is among the top k of its layer by |patching effect|, k = how many of expect lie in that layer;</item>
/// <item>clean_logit_diff_positive: the clean logit difference is positive on every prompt (not just on average).</item>
/// </list>
/// </summary>
internal static class ClaimChecks
{
    /// <summary>Checks <paramref name="claim"/> on <paramref name="results"/>.</summary>
    public static ClaimCheck Check(StudyClaim claim, StudyResults results)
    {
        var expected = Expected(claim);
        string g = claim.Group, expect = string.Join(", ", expected);
        ClaimCheck NotComputed(string criterion, string what) => new(claim, "not computed", criterion, $"{what} was not computed for {g}");
        ClaimCheck Judge(bool held, string criterion, string observed) => new(claim, held ? "held" : "not held", criterion, observed);
        switch (claim.Kind)
        {
            case "top_positive_head" or "top_negative_head" or "top_patching_head":
            {
                bool patching = claim.Kind == "top_patching_head", negative = claim.Kind == "top_negative_head";
                string criterion = patching ? $"the head whose output patching restores the most is {expect}"
                    : $"the head with the {(negative ? "most negative" : "largest")} direct logit attribution is {expect}";
                var grid = results.GridAt(g, patching ? "patching/head_out" : StudyAnalyses.HeadAttribution);
                if (grid is null) return NotComputed(criterion, patching ? "head output patching" : "head attribution");
                var ranked = RankHeads(grid);
                if (negative) ranked.Reverse();
                return Judge(expected.Contains(ranked[0].Name), criterion, Listing(ranked, 2));
            }
            case "head_rank":
            {
                int rank = claim.Rank ?? 1;
                string criterion = $"{expect} is number {rank} of the heads by direct logit attribution";
                if (results.GridAt(g, StudyAnalyses.HeadAttribution) is not Grid grid) return NotComputed(criterion, "head attribution");
                var ranked = RankHeads(grid);
                int at = ranked.FindIndex(h => h.Name == expected[0]) + 1;
                return Judge(at == rank, criterion, $"{expected[0]} is number {at}; {Listing(ranked, rank + 1)}");
            }
            case "top_layer" or "top_components":
            {
                int n = claim.Kind == "top_layer" ? 1 : expected.Count;
                string criterion = claim.Kind == "top_layer" ? $"the component with the largest direct attribution is {expect}"
                    : $"the {n} components with the largest direct attribution are {expect} (any order)";
                if (results.GridAt(g, StudyAnalyses.LayerAttribution) is not Grid grid) return NotComputed(criterion, "layer attribution");
                var ranked = RankCols(grid);
                bool held = claim.Kind == "top_layer" ? expected.Contains(ranked[0].Name) : ranked.Take(n).All(c => expected.Contains(c.Name));
                return Judge(held, criterion, Listing(ranked, n + 1));
            }
            case "value_over_pattern":
            {
                string head = expected[0];
                string criterion = $"patching {head}'s values restores more than patching its attention pattern (value score > pattern score)";
                var value = results.GridAt(g, "patching/head_v");
                var pattern = results.GridAt(g, "patching/head_pattern");
                if (value is null || pattern is null) return NotComputed(criterion, "head value and pattern patching");
                float v = HeadValue(value, head), p = HeadValue(pattern, head);
                return Judge(v > p, criterion, $"{head}: value {F6(v)}, pattern {F6(p)}");
            }
            case "top_neurons":
            {
                string criterion = $"each of {expect} is among the top k of its layer by |patching effect|, k = how many of them lie in that layer";
                if (results.GridAt(g, StudyAnalyses.NeuronPatching) is not Grid grid) return NotComputed(criterion, "neuron patching");
                var parts = new List<string>();
                bool held = true;
                foreach (var name in expected)
                {
                    var (layer, index) = NeuronId.Parse(name);
                    int row = grid.Rows.ToList().IndexOf(layer.ToString());
                    int col = grid.Cols.ToList().IndexOf(index.ToString());
                    if (row < 0 || col < 0) { held = false; parts.Add($"{name} not patched"); continue; }
                    int k = expected.Count(e => NeuronId.Parse(e).Layer == layer);
                    float effect = grid[row, col];
                    int rank = 1 + Enumerable.Range(0, grid.Cols.Count).Count(c => MathF.Abs(grid[row, c]) > MathF.Abs(effect));
                    held &= rank <= k;
                    parts.Add($"{name} number {rank} of layer {layer} ({F6(effect)})");
                }
                return Judge(held, criterion, string.Join("; ", parts));
            }
            case "clean_logit_diff_positive":
            {
                const string criterion = "the clean logit difference is positive on every prompt";
                if (results.Get(g, StudyAnalyses.ModelCheck)?["clean_per_prompt"] is not JsonArray per) return NotComputed(criterion, "the model check");
                var d = per.Select(x => x!.GetValue<double>()).ToList();
                int worst = d.IndexOf(d.Min());
                return Judge(d.All(x => x > 0), criterion, $"{d.Count(x => x > 0)} of {d.Count} positive; smallest {F(d[worst])} (prompt {worst}), mean {F(d.Average())}");
            }
            default: return new(claim, "not computed", "unknown", $"unknown claim kind {claim.Kind}");
        }
    }

    /// <summary>The claim's expected names in canonical form: heads (<c>L7H11</c>, also written 7.11, a7.h11, ...) for
    /// the head kinds, neurons (<c>L8N2744</c>) for top_neurons, as written for the others; a bad name is the one
    /// name error (<see cref="ComponentNames"/>).</summary>
    public static IReadOnlyList<string> Expected(StudyClaim claim) => claim.Kind switch
    {
        "top_positive_head" or "top_negative_head" or "top_patching_head" or "head_rank" or "value_over_pattern"
            => claim.Expect.Select(n => HeadId.Parse(n).ToString()).ToList(),
        "top_neurons" => claim.Expect.Select(n => NeuronId.Parse(n).ToString()).ToList(),
        _ => claim.Expect,
    };

    private static float HeadValue(Grid grid, string name)
    {
        var head = HeadId.Parse(name);
        int row = grid.Rows.ToList().IndexOf(head.Layer.ToString()), col = grid.Cols.ToList().IndexOf(head.Head.ToString());
        return row < 0 || col < 0 ? float.NaN : grid[row, col];
    }

    private static string Listing(List<(string Name, float Value)> ranked, int count) =>
        "ranking: " + string.Join(", ", ranked.Take(count).Select((x, i) => $"{i + 1}. {x.Name} {F6(x.Value)}"));
}
