using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies.Verify;

/// <summary>
/// The notebook's figures (<c>{group, title, traces}</c>) read as labelled tables, and the same tables read from a
/// run's results.json. Line figures are labelled by their hovertext ("0_pre", "7_attn_out"), position heatmaps by
/// their x labels ("&lt;|endoftext|&gt;_0"), head heatmaps by layer and head index, neuron figures by neuron index and
/// the head scatters by head name ("L7H11") with one column per axis.
/// </summary>
internal static class ReferenceFigures
{
    /// <summary>What a notebook figure shows: the analysis path(s) of a run holding it and the axis names.</summary>
    /// <param name="Path">Analysis path in results.json ("patching/head_out"); for neurons the neuron_patching grid.</param>
    /// <param name="YPath">Scatters: the analysis on the y axis (x is <paramref name="Path"/>).</param>
    /// <param name="NeuronLayer">Neuron figures: the layer (row of the neuron grid).</param>
    /// <param name="RowAxis">Name of a row ("layer"); "" for line figures.</param>
    /// <param name="ColAxis">Name of a column ("head", "position", "component", "neuron").</param>
    public sealed record Mapping(string Path, string? YPath, string? NeuronLayer, string RowAxis, string ColAxis)
    {
        /// <summary>"patching/head_v + patching/head_out" for scatters, else the path.</summary>
        public string Source => YPath is null ? NeuronLayer is null ? Path : $"{Path}#{NeuronLayer}" : $"{Path}+{YPath}";
    }

    private const string NeuronTitle = "Logit Difference From Patched Neurons in MLP Layer ";

    /// <summary>The mapping of a notebook figure title, or null when verify cannot read it.</summary>
    public static Mapping? For(string title) => title switch
    {
        "Logit Difference From Accumulate Residual Stream" => new(StudyAnalyses.LogitLens, null, null, "", "component"),
        "Logit Difference From Each Layer" => new(StudyAnalyses.LayerAttribution, null, null, "", "component"),
        "Logit Difference From Each Head" => new(StudyAnalyses.HeadAttribution, null, null, "layer", "head"),
        "Logit Difference From Patched Residual Stream" => new("patching/resid_pre", null, null, "layer", "position"),
        "Logit Difference From Patched Attention Layer" => new("patching/attn_out", null, null, "layer", "position"),
        "Logit Difference From Patched MLP Layer" => new("patching/mlp_out", null, null, "layer", "position"),
        "Logit Difference From Patched Head Output" => new("patching/head_out", null, null, "layer", "head"),
        "Logit Difference From Patched Head Value" => new("patching/head_v", null, null, "layer", "head"),
        "Logit Difference From Patched Head Pattern" => new("patching/head_pattern", null, null, "layer", "head"),
        "Scatter plot of output patching vs value patching" => new("patching/head_v", "patching/head_out", null, "head", "axis"),
        "Scatter plot of output patching vs attention patching" => new("patching/head_pattern", "patching/head_out", null, "head", "axis"),
        _ when title.StartsWith(NeuronTitle, StringComparison.Ordinal) => new(StudyAnalyses.NeuronPatching, null, title[NeuronTitle.Length..], "", "neuron"),
        _ => null,
    };

    /// <summary>Every title verify reads except the per-layer neuron figures.</summary>
    public static readonly string[] Titles =
    [
        "Logit Difference From Accumulate Residual Stream", "Logit Difference From Each Layer", "Logit Difference From Each Head",
        "Logit Difference From Patched Residual Stream", "Logit Difference From Patched Attention Layer", "Logit Difference From Patched MLP Layer",
        "Logit Difference From Patched Head Output", "Logit Difference From Patched Head Value", "Logit Difference From Patched Head Pattern",
        "Scatter plot of output patching vs value patching", "Scatter plot of output patching vs attention patching",
    ];

    /// <summary>The title of the neuron figure of <paramref name="layer"/>.</summary>
    public static string NeuronFigureTitle(string layer) => NeuronTitle + layer;

    /// <summary>The reference figure's first trace as a table, or an error explaining what is malformed.</summary>
    public static LabelledTable Expected(Mapping map, JsonNode? trace, string where)
    {
        if (trace is not JsonObject t) throw new InvalidInputException($"{where}: the reference figure has no traces");
        if (map.YPath is not null)
        {
            var x = Nums(t["x"], where + ".x"); var y = Nums(t["y"], where + ".y");
            var heads = Labels(t["hovertext"]) ?? LabelledTable.Indices(x.Count);
            if (x.Count != y.Count || heads.Length != x.Count) throw new InvalidInputException($"{where}: x, y and hovertext must have the same length");
            return new(map.RowAxis, heads, map.ColAxis, ["x", "y"], x.Zip(y).SelectMany(p => new[] { p.First, p.Second }).ToArray());
        }
        if (t["z"] is JsonArray z)
        {
            var rows = z.Select((r, i) => Nums(r, $"{where}.z[{i}]")).ToList();
            int cols = rows.Count == 0 ? 0 : rows[0].Count;
            if (rows.Any(r => r.Count != cols)) throw new InvalidInputException($"{where}: the heatmap's rows have different lengths");
            return new(map.RowAxis, LabelledTable.Indices(rows.Count), map.ColAxis, Labels(t["x"]) ?? LabelledTable.Indices(cols), rows.SelectMany(r => r).ToArray());
        }
        var values = Nums(t["y"], where + ".y");
        var labels = map.NeuronLayer is not null ? Labels(t["x"]) : Labels(t["hovertext"]) ?? Labels(t["x"]);
        return LabelledTable.Line(map.ColAxis, labels ?? LabelledTable.Indices(values.Count), values);
    }

    /// <summary>Our table for the mapping in <paramref name="group"/>, or null (with the reason) when the run lacks it.</summary>
    public static LabelledTable? Ours(StudyResults results, string group, Mapping map, out string? missing)
    {
        missing = null;
        var grid = results.GridAt(group, map.Path);
        if (grid is null) { missing = $"{group}/{map.Path} is not in the results"; return null; }
        if (map.NeuronLayer is string layer)
        {
            int row = grid.Rows.ToList().IndexOf(layer);
            if (row < 0) { missing = $"{group}/{map.Path} has no layer {layer} (layers {string.Join(", ", grid.Rows)})"; return null; }
            return LabelledTable.Line(map.ColAxis, grid.Cols, Enumerable.Range(0, grid.Cols.Count).Select(c => (double)grid[row, c]));
        }
        if (map.YPath is string yPath)
        {
            var y = results.GridAt(group, yPath);
            if (y is null) { missing = $"{group}/{yPath} is not in the results"; return null; }
            // x and y of different shapes: whichever differs from the reference shows up as a structure problem.
            if (y.Rows.Count != grid.Rows.Count || y.Cols.Count != grid.Cols.Count) return new(map.RowAxis, HeadNames(y), map.ColAxis, ["x", "y"], []);
            var values = grid.Values.Data.Zip(y.Values.Data).SelectMany(p => new[] { (double)p.First, p.Second }).ToArray();
            return new(map.RowAxis, HeadNames(grid), map.ColAxis, ["x", "y"], values);
        }
        return LabelledTable.FromGrid(grid, map.RowAxis, map.ColAxis);
    }

    /// <summary>The head name (L7H11) of every cell of a layer x head grid, row-major (the scatters' hovertext).</summary>
    public static string[] HeadNames(Grid grid) =>
        Enumerable.Range(0, grid.Rows.Count).SelectMany(r => Enumerable.Range(0, grid.Cols.Count).Select(c => new HeadId(r, c).ToString())).ToArray();

    // null is NaN: Plotly writes NaN as null, and so does `study reference`.
    internal static List<double> Nums(JsonNode? node, string where) => node is JsonArray a
        ? a.Select((v, i) => v is null ? double.NaN : v is JsonValue jv && jv.TryGetValue(out double d) ? d
            : throw new InvalidInputException($"{where}[{i}] must be a number, not {InputFiles.Describe(v)}")).ToList()
        : throw new InvalidInputException($"{where} must be a list of numbers, not {InputFiles.Describe(node)}");

    private static string[]? Labels(JsonNode? node) => node is JsonArray a ? a.Select(v => v?.ToString() ?? "").ToArray() : null;
}
