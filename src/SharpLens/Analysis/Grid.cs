using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Tensors;

namespace SharpLens.Analysis;

/// <summary>
/// A labelled 2-D result (layers x positions, layers x heads, groups x components ...), the unit every
/// analysis returns and every figure draws. Keeps the per-prompt values so statistics can be taken later.
/// JSON form: <c>{"values": [[...]], "rows": [...], "cols": [...], "per_prompt": [[[...]]]}</c>.
/// </summary>
public sealed class Grid
{
    /// <summary>[rows, cols]: usually the mean over prompts.</summary>
    public Tensor Values { get; }
    /// <summary>Row labels, e.g. "0".."11" for layers.</summary>
    public IReadOnlyList<string> Rows { get; }
    /// <summary>Column labels, e.g. "&lt;|endoftext|&gt;_0", "We_1" (token_index) or "0".."11" for heads.</summary>
    public IReadOnlyList<string> Cols { get; }
    /// <summary>[prompt, rows, cols], or null when only an aggregate exists.</summary>
    public Tensor? PerPrompt { get; }
    /// <summary>Optional axis titles and figure title, carried into plots.</summary>
    public string? Title { get; init; }
    /// <summary>Title of the row axis (e.g. "layer").</summary>
    public string? RowTitle { get; init; }
    /// <summary>Title of the column axis (e.g. "position", "head").</summary>
    public string? ColTitle { get; init; }

    /// <summary>A grid of <paramref name="values"/> [rows, cols] labelled by <paramref name="rows"/> and
    /// <paramref name="cols"/>, optionally with the <paramref name="perPrompt"/> values [prompt, rows, cols] it summarises.</summary>
    public Grid(Tensor values, IReadOnlyList<string> rows, IReadOnlyList<string> cols, Tensor? perPrompt = null)
    {
        if (values.Rank != 2) throw new ShapeMismatchException($"Grid values must be [rows, cols], got {values.ShapeString}");
        if (values.Dim(0) != rows.Count || values.Dim(1) != cols.Count)
            throw new ShapeMismatchException($"Grid values {values.ShapeString} do not match {rows.Count} rows x {cols.Count} cols");
        if (perPrompt is not null && (perPrompt.Rank != 3 || perPrompt.Dim(1) != rows.Count || perPrompt.Dim(2) != cols.Count))
            throw new ShapeMismatchException($"Grid per_prompt must be [prompt, {rows.Count}, {cols.Count}], got {perPrompt.ShapeString}");
        Values = values; Rows = rows; Cols = cols; PerPrompt = perPrompt;
    }

    /// <summary>Builds a grid whose values are the mean over prompts of <paramref name="perPrompt"/> [prompt, rows, cols].</summary>
    public static Grid FromPerPrompt(Tensor perPrompt, IReadOnlyList<string> rows, IReadOnlyList<string> cols)
    {
        int prompts = perPrompt.Dim(0), cells = rows.Count * cols.Count;
        var mean = new float[cells];
        for (int p = 0; p < prompts; p++)
            System.Numerics.Tensors.TensorPrimitives.Add(mean, perPrompt.Data.AsSpan(p * cells, cells), mean);
        if (prompts > 0) System.Numerics.Tensors.TensorPrimitives.Divide(mean, prompts, mean);
        return new Grid(new Tensor(mean, rows.Count, cols.Count), rows, cols, perPrompt);
    }

    /// <summary>The value at (<paramref name="row"/>, <paramref name="col"/>).</summary>
    public float this[int row, int col] => Values.Data[row * Cols.Count + col];

    /// <summary>The grid as JSON: values, rows, cols, per_prompt when present, and the titles.</summary>
    public JsonObject ToJson()
    {
        var obj = new JsonObject
        {
            ["values"] = Nested(Values.Data, 0, Rows.Count, Cols.Count),
            ["rows"] = new JsonArray(Rows.Select(r => (JsonNode?)r).ToArray()),
            ["cols"] = new JsonArray(Cols.Select(c => (JsonNode?)c).ToArray()),
        };
        if (PerPrompt is not null)
        {
            var pp = new JsonArray();
            int cells = Rows.Count * Cols.Count;
            for (int p = 0; p < PerPrompt.Dim(0); p++) pp.Add(Nested(PerPrompt.Data, p * cells, Rows.Count, Cols.Count));
            obj["per_prompt"] = pp;
        }
        if (Title is not null) obj["title"] = Title;
        if (RowTitle is not null) obj["row_title"] = RowTitle;
        if (ColTitle is not null) obj["col_title"] = ColTitle;
        return obj;
    }

    /// <summary>Reads a grid written by <see cref="ToJson"/>.</summary>
    public static Grid FromJson(JsonNode node)
    {
        var rows = node["rows"]!.AsArray().Select(n => n!.ToString()).ToList();
        var cols = node["cols"]!.AsArray().Select(n => n!.ToString()).ToList();
        var values = node["values"]!.AsArray();
        var data = new float[rows.Count * cols.Count];
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < cols.Count; c++)
                data[r * cols.Count + c] = ReadFloat(values[r]![c]);
        Tensor? perPrompt = null;
        if (node["per_prompt"] is JsonArray pp)
        {
            var ppData = new float[pp.Count * rows.Count * cols.Count];
            int i = 0;
            foreach (var prompt in pp)
                for (int r = 0; r < rows.Count; r++)
                    for (int c = 0; c < cols.Count; c++)
                        ppData[i++] = ReadFloat(prompt![r]![c]);
            perPrompt = new Tensor(ppData, pp.Count, rows.Count, cols.Count);
        }
        return new Grid(new Tensor(data, rows.Count, cols.Count), rows, cols, perPrompt)
        {
            Title = node["title"]?.ToString(),
            RowTitle = node["row_title"]?.ToString(),
            ColTitle = node["col_title"]?.ToString(),
        };
    }

    private static float ReadFloat(JsonNode? n) => n is null ? float.NaN : n.GetValueKind() == JsonValueKind.String
        ? float.Parse(n.ToString(), System.Globalization.CultureInfo.InvariantCulture) : n.GetValue<float>();

    private static JsonArray Nested(float[] data, int offset, int rows, int cols)
    {
        var outer = new JsonArray();
        for (int r = 0; r < rows; r++)
        {
            var row = new JsonArray();
            for (int c = 0; c < cols; c++)
            {
                float v = data[offset + r * cols + c];
                row.Add(float.IsFinite(v) ? JsonValue.Create(MathF.Round(v, 6)) : JsonValue.Create(v.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            outer.Add(row);
        }
        return outer;
    }
}
