using SharpLens.Analysis;

namespace SharpLens.Studies.Verify;

/// <summary>
/// A figure or printed list as <see cref="StudyVerify"/> compares it: labelled rows and columns and the values
/// [rows, cols], row-major. Axis names ("layer", "head", "position", "component") make cells readable in messages.
/// </summary>
/// <param name="RowAxis">What a row is ("layer"); empty for a single unlabelled row.</param>
/// <param name="Rows">Row labels, e.g. "0".."11".</param>
/// <param name="ColAxis">What a column is ("head", "position", "component", "neuron", "prompt").</param>
/// <param name="Cols">Column labels, e.g. "&lt;|endoftext|&gt;_0" or "7_attn_out".</param>
/// <param name="Values">[rows · cols] values, row-major.</param>
internal sealed record LabelledTable(string RowAxis, IReadOnlyList<string> Rows, string ColAxis, IReadOnlyList<string> Cols, double[] Values)
{
    /// <summary>A single row of values (a line figure or a printed list).</summary>
    public static LabelledTable Line(string colAxis, IReadOnlyList<string> cols, IEnumerable<double> values) => new("", [""], colAxis, cols, values.ToArray());

    /// <summary>A grid of a results.json with its own labels.</summary>
    public static LabelledTable FromGrid(Grid grid, string rowAxis, string colAxis) =>
        new(grid.Rows.Count == 1 ? "" : rowAxis, grid.Rows.Count == 1 ? [""] : grid.Rows, colAxis, grid.Cols, grid.Values.Data.Select(v => (double)v).ToArray());

    /// <summary>"0".."count-1": the labels of an axis the notebook's figure does not label (layers, heads).</summary>
    public static string[] Indices(int count) => Enumerable.Range(0, count).Select(i => i.ToString()).ToArray();

    /// <summary>The readable name of the cell at flat index <paramref name="index"/>: "layer 7, head 11" or "component 7_attn_out".</summary>
    public string Cell(int index)
    {
        int r = index / Cols.Count, c = index % Cols.Count;
        string col = $"{ColAxis} {Cols[c]}".Trim();
        return Rows.Count == 1 && RowAxis.Length == 0 ? col : $"{RowAxis} {Rows[r]}, {col}".Trim();
    }
}
