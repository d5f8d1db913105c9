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

    /// <summary>
    /// Reads a grid written by <see cref="ToJson"/>, checking its structure: labels are lists of strings, values a
    /// [rows][cols] list of numbers (or "NaN"/"Infinity"/"-Infinity", as <see cref="ToJson"/> writes non-finite values),
    /// per_prompt [prompt][rows][cols]. Anything else is an <see cref="InvalidInputException"/> naming the field, e.g.
    /// "results.json: groups.a.logit_lens.values[2] has 5 values for 6 columns".
    /// </summary>
    /// <param name="node">the grid's JSON object.</param>
    /// <param name="where">the file and path of the grid, for messages.</param>
    public static Grid FromJson(JsonNode node, string where = "grid")
    {
        if (node is not JsonObject obj) throw new InvalidInputException($"{where} must be a grid object {{\"values\", \"rows\", \"cols\"}}, not {InputFiles.Describe(node)}");
        var rows = Labels(obj["rows"], $"{where}.rows");
        var cols = Labels(obj["cols"], $"{where}.cols");
        var data = new float[rows.Count * cols.Count];
        ReadMatrix(obj["values"], rows.Count, cols.Count, data, 0, $"{where}.values");
        Tensor? perPrompt = null;
        if (obj["per_prompt"] is JsonNode ppNode)
        {
            if (ppNode is not JsonArray pp) throw new InvalidInputException($"{where}.per_prompt must be a list of [rows][cols] matrices, not {InputFiles.Describe(ppNode)}");
            var ppData = new float[pp.Count * rows.Count * cols.Count];
            for (int p = 0; p < pp.Count; p++) ReadMatrix(pp[p], rows.Count, cols.Count, ppData, p * rows.Count * cols.Count, $"{where}.per_prompt[{p}]");
            perPrompt = new Tensor(ppData, pp.Count, rows.Count, cols.Count);
        }
        return new Grid(new Tensor(data, rows.Count, cols.Count), rows, cols, perPrompt)
        {
            Title = OptionalText(obj["title"], $"{where}.title"),
            RowTitle = OptionalText(obj["row_title"], $"{where}.row_title"),
            ColTitle = OptionalText(obj["col_title"], $"{where}.col_title"),
        };
    }

    private static List<string> Labels(JsonNode? node, string where)
    {
        if (node is not JsonArray labels) throw new InvalidInputException($"{where} must be a list of labels, not {InputFiles.Describe(node)}");
        return labels.Select((l, i) => l is JsonValue v && v.GetValueKind() is JsonValueKind.String or JsonValueKind.Number ? v.ToString()
            : throw new InvalidInputException($"{where}[{i}] must be a label (text), not {InputFiles.Describe(l)}")).ToList();
    }

    private static string? OptionalText(JsonNode? node, string where) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new InvalidInputException($"{where} must be text, not {InputFiles.Describe(node)}"),
    };

    private static void ReadMatrix(JsonNode? node, int rows, int cols, float[] into, int offset, string where)
    {
        if (node is not JsonArray matrix) throw new InvalidInputException($"{where} must be a [rows][cols] list of numbers, not {InputFiles.Describe(node)}");
        if (matrix.Count != rows) throw new InvalidInputException($"{where} has {matrix.Count} rows for {rows} row labels");
        for (int r = 0; r < rows; r++)
        {
            if (matrix[r] is not JsonArray row) throw new InvalidInputException($"{where}[{r}] must be a list of numbers, not {InputFiles.Describe(matrix[r])}");
            if (row.Count != cols) throw new InvalidInputException($"{where}[{r}] has {row.Count} values for {cols} columns");
            for (int c = 0; c < cols; c++) into[offset + r * cols + c] = ReadFloat(row[c], $"{where}[{r}][{c}]");
        }
    }

    // Numbers as float32; non-finite values as the strings ToJson writes for them; a number beyond float32's range is an
    // error rather than a silent infinity.
    private static float ReadFloat(JsonNode? n, string where)
    {
        if (n is JsonValue v)
        {
            var kind = v.GetValueKind();
            // A grid built in memory holds float (or int) values, for which TryGetValue<double> is false; parsed text holds
            // a JsonElement, for which it is true.
            if (kind == JsonValueKind.Number && (v.TryGetValue(out double d) || TryReadNumber(v, out d)) && float.IsFinite((float)d)) return (float)d;
            if (kind == JsonValueKind.Number) throw new InvalidInputException($"{where} = {v.ToJsonString()} is outside the float32 range");
            if (kind == JsonValueKind.String && v.GetValue<string>() is "NaN" or "Infinity" or "-Infinity" && float.TryParse(v.GetValue<string>(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float f))
                return f;
        }
        throw new InvalidInputException($"{where} must be a number, not {InputFiles.Describe(n)}");
    }

    private static bool TryReadNumber(JsonValue v, out double value) =>
        double.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value);

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
