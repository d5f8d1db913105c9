using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Statistics;

namespace SharpLens.Studies;

/// <summary>The study's comparisons across groups (the file's <c>"comparisons"</c> block), from the groups' saved results.</summary>
internal static class StudyComparisons
{
    /// <summary>Every pair of compared groups on every comparison figure (per-cell permutation tests, Holm-corrected
    /// within one figure and pair, bootstrap intervals of the difference).</summary>
    public static JsonNode Run(Study study, StudyResults results, IProgress<double> progress)
    {
        var set = study.Comparisons;
        var groups = study.ComparedGroups.Select(g => g.Name).ToList();
        var output = new JsonObject { ["groups"] = StudyRunner.Arr(groups.ToArray()), ["threshold"] = set.Threshold, ["alpha"] = set.Alpha, ["correction"] = "holm", ["correction_scope"] = "the cells of one figure for one pair of groups (not across pairs or figures)", ["paired"] = false };
        var figures = new JsonObject();
        int pairs = groups.Count * (groups.Count - 1) / 2, done = 0, total = pairs * set.Figures.Count;
        foreach (var figure in set.Figures)
        {
            string path = figure switch { "logit_lens" or "layer_attribution" or "head_attribution" => figure, _ => $"patching/{figure}" };
            var grids = groups.Select(g => Positional(results.GridAt(g, path)
                ?? throw new InvalidInputException($"comparisons: group '{g}' has no {path} result"))).ToList();
            var pairList = new JsonArray();
            for (int a = 0; a < groups.Count; a++)
                for (int b = a + 1; b < groups.Count; b++)
                {
                    var cmp = GroupComparison.Compare(grids[a], grids[b], paired: false, Correction.Holm, set.Alpha, set.Permutations, set.Resamples, 0.95, set.Seed);
                    var largest = cmp.Cells.OrderByDescending(c => MathF.Abs(c.Diff)).First();
                    var small = cmp.Cells.Where(c => MathF.Abs(c.Diff) < set.Threshold).ToList();
                    pairList.Add(new JsonObject
                    {
                        ["a"] = groups[a], ["b"] = groups[b],
                        ["max_abs_diff"] = MathF.Abs(largest.Diff), ["max_cell"] = $"{largest.Row}/{largest.Col}",
                        ["cells"] = cmp.Cells.Count, ["significant"] = cmp.Significant.Count(),
                        ["below_threshold"] = small.Count, ["below_threshold_significant"] = small.Count(c => c.Significant),
                        ["significant_cells"] = new JsonArray(cmp.Significant.Take(20).Select(c => (JsonNode?)CellJson(c)).ToArray()),
                        ["largest_cells"] = new JsonArray(cmp.Cells.OrderByDescending(c => MathF.Abs(c.Diff)).Take(5).Select(c => (JsonNode?)CellJson(c)).ToArray()),
                    });
                    progress.Report(++done / (double)total);
                }
            figures[figure] = new JsonObject { ["path"] = path, ["pairs"] = pairList };
        }
        output["figures"] = figures;
        return output;
    }

    private static JsonObject CellJson(CellComparison c) => new()
    {
        ["row"] = c.Row, ["col"] = c.Col, ["mean_a"] = c.MeanA, ["mean_b"] = c.MeanB, ["diff"] = c.Diff,
        ["ci"] = new JsonArray(c.DiffLower, c.DiffUpper), ["p"] = c.PValue, ["p_adjusted"] = c.PAdjusted, ["significant"] = c.Significant,
    };

    /// <summary>Position columns "they_7" differ between groups: compare by index ("pos_7").</summary>
    internal static Grid Positional(Grid g)
    {
        if (g.ColTitle != "position") return g;
        var cols = g.Cols.Select((c, i) => $"pos_{i}").ToArray();
        return new Grid(g.Values, g.Rows, cols, g.PerPrompt) { Title = g.Title, RowTitle = g.RowTitle, ColTitle = g.ColTitle };
    }
}
