using System.Text;
using System.Text.Json.Nodes;

namespace SharpLens.Reports;

/// <summary>A figure's data as tidy CSV and as JSON (the same numbers the plots show).</summary>
public static class FigureData
{
    /// <summary>CSV: a matrix for heatmaps (first column = row label), long form for the other kinds.</summary>
    public static string ToCsv(Figure f)
    {
        var sb = new StringBuilder();
        void Row(params object?[] cells) => sb.Append(string.Join(",", cells.Select(Cell))).Append('\n');
        switch (f)
        {
            case CircuitFigure c:
                Row("edge", "parent", "child", "score");
                foreach (var (e, score) in c.Edges) Row(e.Name, e.Parent.Name, e.Child.InputName, score);
                break;
            case HeatmapFigure h:
                Row(new object?[] { "row" }.Concat(h.Cols).ToArray());
                for (int r = 0; r < h.Rows.Count; r++)
                    Row(new object?[] { h.Rows[r] }.Concat(Enumerable.Range(0, h.Cols.Count).Select(c => (object?)h.Values[r, c])).ToArray());
                break;
            case SmallMultiplesFigure sm:
                Row("panel", "row", "col", "value");
                foreach (var p in sm.Panels)
                    for (int r = 0; r < p.Rows.Count; r++)
                        for (int c = 0; c < p.Cols.Count; c++) Row(p.Title, p.Rows[r], p.Cols[c], p.Values[r, c]);
                break;
            case LineFigure l:
                Row("series", "x", "label", "y");
                foreach (var s in l.Series)
                    for (int i = 0; i < l.X.Count; i++) Row(s.Name, l.X[i], s.PointLabels?[i] ?? "", s.Y[i]);
                foreach (var b in l.Bands)
                    for (int i = 0; i < l.X.Count; i++) { Row($"{b.Name} lower", l.X[i], "", b.Lower[i]); Row($"{b.Name} upper", l.X[i], "", b.Upper[i]); }
                break;
            case ScatterFigure sc:
                Row("name", "layer", "x", "y");
                foreach (var p in sc.Points) Row(p.Name, p.Layer, p.X, p.Y);
                break;
            case BarFigure b:
                Row("category", "value", "lower", "upper");
                for (int i = 0; i < b.Categories.Count; i++) Row(b.Categories[i], b.Values[i], b.Lower?[i], b.Upper?[i]);
                break;
            case AttentionFigure a:
                Row("head", "dest_pos", "dest_token", "src_pos", "src_token", "attention");
                foreach (var h in a.Heads)
                    for (int d = 0; d < a.Tokens.Count; d++)
                        for (int s = 0; s < a.Tokens.Count; s++) Row(h.Name, d, a.Tokens[d], s, a.Tokens[s], h.Pattern[d, s]);
                break;
            case NeuronTextFigure n:
                Row("prompt", "pos", "token", "neuron", "activation");
                for (int p = 0; p < n.Prompts.Count; p++)
                    for (int k = 0; k < n.Neurons.Count; k++)
                        for (int t = 0; t < n.Prompts[p].Tokens.Count; t++) Row(p, t, n.Prompts[p].Tokens[t], n.Neurons[k], n.Prompts[p].Activations[k, t]);
                break;
            case TopKTable tk:
                Row("prompt", "answer", "answer_rank", "rank", "token", "logit", "prob");
                foreach (var r in tk.Rows)
                    for (int i = 0; i < r.Top.Count; i++) Row(r.Prompt, r.Answer, r.AnswerRank, i + 1, r.Top[i].Token, r.Top[i].Logit, r.Top[i].Probability);
                break;
            case TableFigure t:
                Row(t.Columns.Cast<object?>().ToArray());
                foreach (var r in t.Rows) Row(r.Cast<object?>().ToArray());
                break;
            default: throw new NotSupportedException(f.GetType().Name);
        }
        return sb.ToString();
    }

    private static string Cell(object? v) => v switch
    {
        null => "",
        double d => double.IsNaN(d) ? "" : Fmt.G(d),
        float x => float.IsNaN(x) ? "" : Fmt.G(x),
        _ => Quote(Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? ""),
    };

    private static string Quote(string s) =>
        s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 || s.StartsWith(' ') || s.EndsWith(' ') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>JSON: {"kind", "title", ...the figure's data...}. Non-finite numbers become null.</summary>
    public static JsonObject ToJson(Figure f)
    {
        var o = new JsonObject { ["kind"] = f.Kind, ["title"] = f.Title };
        if (f.XTitle is not null) o["x_title"] = f.XTitle;
        if (f.YTitle is not null) o["y_title"] = f.YTitle;
        switch (f)
        {
            case CircuitFigure c:
                o["nodes"] = Strs(c.Graph.NodeNames.Where(c.Nodes.Contains).ToList());
                o["edges"] = new JsonObject(c.Edges.Select(p => KeyValuePair.Create(p.Edge.Name, (JsonNode?)(float.IsFinite(p.Score) ? JsonValue.Create(p.Score) : null))));
                break;
            case HeatmapFigure h:
                HeatmapInto(o, h);
                var (lo, hi) = h.ColorRange; o["zmin"] = lo; o["zmax"] = hi;
                break;
            case SmallMultiplesFigure sm:
                var (slo, shi) = sm.SharedColorRange; o["zmin"] = slo; o["zmax"] = shi;
                o["panels"] = new JsonArray(sm.Panels.Select(p => { var po = new JsonObject { ["title"] = p.Title }; HeatmapInto(po, p); return (JsonNode)po; }).ToArray());
                break;
            case LineFigure l:
                o["x"] = Strs(l.X);
                if (l.XValues is not null) { o["x_values"] = Nums(l.XValues); o["log_x"] = l.LogX; }
                if (l.Bands.Count > 0)
                    o["bands"] = new JsonArray(l.Bands.Select(b => (JsonNode)new JsonObject { ["name"] = b.Name, ["lower"] = Nums(b.Lower), ["upper"] = Nums(b.Upper) }).ToArray());
                o["series"] = new JsonArray(l.Series.Select(s =>
                {
                    var so = new JsonObject { ["name"] = s.Name, ["y"] = Nums(s.Y) };
                    if (s.PointLabels is not null) so["labels"] = Strs(s.PointLabels);
                    return (JsonNode)so;
                }).ToArray());
                break;
            case ScatterFigure sc:
                o["points"] = new JsonArray(sc.Points.Select(p => (JsonNode)new JsonObject { ["name"] = p.Name, ["layer"] = p.Layer, ["x"] = Num(p.X), ["y"] = Num(p.Y) }).ToArray());
                break;
            case BarFigure b:
                o["categories"] = Strs(b.Categories); o["values"] = Nums(b.Values);
                if (b.Lower is not null) { o["lower"] = Nums(b.Lower); o["upper"] = Nums(b.Upper!); }
                break;
            case AttentionFigure a:
                o["tokens"] = Strs(a.Tokens);
                o["heads"] = new JsonArray(a.Heads.Select(h => (JsonNode)new JsonObject { ["name"] = h.Name, ["pattern"] = Matrix(h.Pattern) }).ToArray());
                break;
            case NeuronTextFigure n:
                var (nlo, nhi) = n.ColorRange; o["min"] = nlo; o["max"] = nhi;
                o["neurons"] = Strs(n.Neurons);
                o["prompts"] = new JsonArray(n.Prompts.Select(p => (JsonNode)new JsonObject { ["tokens"] = Strs(p.Tokens), ["activations"] = Matrix(p.Activations) }).ToArray());
                break;
            case TopKTable tk:
                o["rows"] = new JsonArray(tk.Rows.Select(r => (JsonNode)new JsonObject
                {
                    ["prompt"] = r.Prompt, ["answer"] = r.Answer, ["answer_rank"] = r.AnswerRank,
                    ["top"] = new JsonArray(r.Top.Select(e => (JsonNode)new JsonObject { ["token"] = e.Token, ["logit"] = Num(e.Logit), ["prob"] = Num(e.Probability) }).ToArray()),
                }).ToArray());
                break;
            case TableFigure t:
                o["columns"] = Strs(t.Columns);
                o["rows"] = new JsonArray(t.Rows.Select(r => (JsonNode)Strs(r)).ToArray());
                break;
        }
        return o;
    }

    private static void HeatmapInto(JsonObject o, HeatmapFigure h)
    {
        o["rows"] = Strs(h.Rows); o["cols"] = Strs(h.Cols); o["values"] = Matrix(h.Values);
    }

    internal static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 6)) : null;
    internal static JsonArray Nums(IEnumerable<double> v) => new(v.Select(Num).ToArray());
    internal static JsonArray Strs(IEnumerable<string> v) => new(v.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
    internal static JsonArray Matrix(double[,] m)
    {
        var outer = new JsonArray();
        for (int r = 0; r < m.GetLength(0); r++)
            outer.Add(Nums(Enumerable.Range(0, m.GetLength(1)).Select(c => m[r, c])));
        return outer;
    }
}
