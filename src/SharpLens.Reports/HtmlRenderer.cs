using System.Text;
using System.Text.Json.Nodes;

namespace SharpLens.Reports;

/// <summary>Bundled assets (Plotly, the widget script and the style sheet), read from embedded resources.</summary>
public static class Assets
{
    static readonly Lazy<string> plotly = new(() => Read("plotly.min.js"));
    static readonly Lazy<string> script = new(() => Read("sharplens.js"));
    static readonly Lazy<string> style = new(() => Read("sharplens.css"));

    /// <summary>The bundled plotly.min.js (plotly.js-dist-min, MIT), so pages work offline.</summary>
    public static string PlotlyJs => plotly.Value;
    /// <summary>Widgets for attention patterns and neuron text.</summary>
    public static string WidgetJs => script.Value;
    /// <summary>The report's stylesheet.</summary>
    public static string Css => style.Value;

    static string Read(string name)
    {
        using var s = typeof(Assets).Assembly.GetManifestResourceStream("SharpLens.Reports." + name)
            ?? throw new InvalidOperationException($"embedded resource {name} missing");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>Writes plotly.min.js, sharplens.js and sharplens.css into <paramref name="dir"/>.</summary>
    public static void WriteTo(string dir)
    {
        AtomicFile.WriteAllText(Path.Combine(dir, "plotly.min.js"), PlotlyJs);
        AtomicFile.WriteAllText(Path.Combine(dir, "sharplens.js"), WidgetJs);
        AtomicFile.WriteAllText(Path.Combine(dir, "sharplens.css"), Css);
    }
}

/// <summary>Renders figures to HTML fragments and pages.</summary>
public static class HtmlRenderer
{
    /// <summary>
    /// The HTML of one figure (a div plus the script that draws it). <paramref name="id"/> is the element id,
    /// deterministic so snapshots are stable. Needs Plotly and the widget script loaded before it. <paramref name="link"/>
    /// gives the page of a name shown in the figure (a table cell, a neuron of a neuron-text figure), or null for none.
    /// Charts are fitted to the width of the element that holds them, and follow it when the window is resized.
    /// </summary>
    public static string Fragment(Figure f, string id, Func<string, string?>? link = null)
    {
        var sb = new StringBuilder();
        string eid = Fmt.Html(id);
        switch (f)
        {
            case AttentionFigure a:
            {
                var (w, h) = PlotlySpec.Size(a);
                var layout = PlotlySpec.Layout(a);
                layout["xaxis"] = new JsonObject { ["type"] = "category", ["title"] = new JsonObject { ["text"] = "source (key)" }, ["automargin"] = true, ["tickangle"] = -45 };
                layout["yaxis"] = new JsonObject { ["type"] = "category", ["title"] = new JsonObject { ["text"] = "destination (query)" }, ["automargin"] = true, ["autorange"] = "reversed" };
                var d = new JsonObject
                {
                    ["tokens"] = FigureData.Strs(a.Tokens), ["labels"] = FigureData.Strs(a.PositionLabels),
                    ["heads"] = new JsonArray(a.Heads.Select(hd => (JsonNode)new JsonObject { ["name"] = hd.Name, ["pattern"] = FigureData.Matrix(hd.Pattern) }).ToArray()),
                    ["max"] = 1.0, ["blues"] = FigureData.Strs(ColorScales.Blues), ["blues_scale"] = PlotlySpec.Scale(ColorScales.Blues),
                    ["layout"] = layout, ["config"] = PlotlySpec.Config(),
                };
                sb.Append($"<div class=\"sl-attn\" id=\"{eid}\" data-kind=\"attention\">");
                if (a.Title.Length > 0) sb.Append($"<h3>{Fmt.Html(a.Title)}</h3>");
                sb.Append("<div class=\"sl-attn-heads\"></div>");
                sb.Append("<div class=\"sl-attn-tokens\"></div>");
                sb.Append($"<div class=\"sl-attn-info\" id=\"{eid}-info\"></div>");
                sb.Append($"<div class=\"sl-plot\" id=\"{eid}-plot\" style=\"width:{w}px;height:{h}px\"></div>");
                sb.Append("</div>\n");
                sb.Append($"<script>SL.attention({Js(id)}, {Js(d)});</script>\n");
                break;
            }
            case NeuronTextFigure n:
            {
                var (lo, hi) = n.ColorRange;
                var d = new JsonObject
                {
                    ["neurons"] = FigureData.Strs(n.Neurons), ["min"] = lo, ["max"] = hi, ["scale"] = FigureData.Strs(ColorScales.RdBu),
                    ["prompts"] = new JsonArray(n.Prompts.Select(p => (JsonNode)new JsonObject { ["tokens"] = FigureData.Strs(p.Tokens), ["activations"] = FigureData.Matrix(p.Activations) }).ToArray()),
                };
                sb.Append($"<div class=\"sl-neuron\" id=\"{eid}\" data-kind=\"neuron_text\">");
                if (n.Title.Length > 0) sb.Append($"<h3>{Fmt.Html(n.Title)}</h3>");
                sb.Append($"<label>Neuron <select id=\"{eid}-sel\"></select></label>");
                sb.Append(NeuronLinks(n.Neurons, link));
                sb.Append("<span class=\"sl-legend\"><span class=\"sl-legend-min\"></span><span class=\"sl-legend-bar\"></span><span class=\"sl-legend-max\"></span></span>");
                sb.Append("<div class=\"sl-ntext\"></div>");
                sb.Append($"<div class=\"sl-tip\" id=\"{eid}-tip\"></div>");
                sb.Append("</div>\n");
                sb.Append($"<script>SL.neurons({Js(id)}, {Js(d)});</script>\n");
                break;
            }
            case TopKTable tk:
                sb.Append($"<div class=\"sl-tablewrap\" id=\"{eid}\" data-kind=\"topk\">");
                if (tk.Title.Length > 0) sb.Append($"<h3>{Fmt.Html(tk.Title)}</h3>");
                sb.Append("<table class=\"sl-table\"><thead><tr><th>prompt</th><th>answer</th><th>answer rank</th><th>#</th><th>token</th><th>logit</th><th>prob</th></tr></thead><tbody>");
                foreach (var r in tk.Rows)
                    for (int i = 0; i < r.Top.Count; i++)
                    {
                        var e = r.Top[i];
                        var cls = new List<string>();
                        if (i == 0) cls.Add("sl-first");
                        if (r.Answer is not null && e.Token == r.Answer) cls.Add("sl-answer");
                        sb.Append(cls.Count > 0 ? $"<tr class=\"{string.Join(' ', cls)}\">" : "<tr>");
                        if (i == 0)
                        {
                            sb.Append($"<td rowspan=\"{r.Top.Count}\" class=\"sl-mono\">{Fmt.Html(r.Prompt)}</td><td rowspan=\"{r.Top.Count}\" class=\"sl-mono\">{Fmt.Html(Quote(r.Answer))}</td>");
                            sb.Append($"<td rowspan=\"{r.Top.Count}\" class=\"num\">{r.AnswerRank?.ToString() ?? ""}</td>");
                        }
                        sb.Append($"<td class=\"num\">{i + 1}</td><td class=\"sl-mono\">{Fmt.Html(Quote(e.Token))}</td><td class=\"num\">{Fmt.Num(e.Logit, 3)}</td><td class=\"num\">{Fmt.Num(e.Probability, 4)}</td></tr>");
                    }
                sb.Append("</tbody></table></div>\n");
                break;
            case CircuitFigure c:
                sb.Append(CircuitSvg.Fragment(c, id));
                break;
            case TableFigure t:
                sb.Append($"<div class=\"sl-tablewrap\" id=\"{eid}\" data-kind=\"table\">");
                if (t.Title.Length > 0) sb.Append($"<h3>{Fmt.Html(t.Title)}</h3>");
                sb.Append(Table(t.Columns, t.Rows, link));
                sb.Append("</div>\n");
                break;
            default:
            {
                var (data, layout) = PlotlySpec.Build(f) ?? throw new NotSupportedException(f.GetType().Name);
                var (w, h) = PlotlySpec.Size(f);
                sb.Append($"<div class=\"sl-plot\" id=\"{eid}\" data-kind=\"{f.Kind}\" style=\"width:{w}px;height:{h}px\"></div>\n");
                sb.Append($"<script>SL.plot({Js(id)}, {Js(data)}, {Js(layout)}, {Js(PlotlySpec.Config())});</script>\n");
                break;
            }
        }
        return sb.ToString();
    }

    /// <summary>An HTML table; cells that parse as numbers are right-aligned, cells <paramref name="link"/> knows a page of are links.</summary>
    public static string Table(IReadOnlyList<string> columns, IEnumerable<string[]> rows, Func<string, string?>? link = null)
    {
        var sb = new StringBuilder("<table class=\"sl-table\"><thead><tr>");
        foreach (var c in columns) sb.Append($"<th>{Fmt.Html(c)}</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var r in rows)
        {
            sb.Append("<tr>");
            foreach (var c in r)
                if (link?.Invoke(c) is string href) sb.Append($"<td><a href=\"{Fmt.Html(href)}\">{Fmt.Html(c)}</a></td>");
                else sb.Append(double.TryParse(c, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
                    ? $"<td class=\"num\">{Fmt.Html(c)}</td>" : $"<td>{Fmt.Html(c)}</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</tbody></table>").ToString();
    }

    /// <summary>"Neuron pages: L8N2744 L10N1063" with a link for each neuron that has a page; empty when none has.</summary>
    static string NeuronLinks(IReadOnlyList<string> neurons, Func<string, string?>? link)
    {
        var links = neurons.Select(n => (Name: n, Href: link?.Invoke(n))).Where(x => x.Href is not null).ToList();
        if (links.Count == 0) return "";
        return "<div class=\"sl-neuron-links\">Neuron pages: " +
               string.Join(" ", links.Select(x => $"<a href=\"{Fmt.Html(x.Href!)}\">{Fmt.Html(x.Name)}</a>")) + "</div>";
    }

    static string Quote(string? token) => token is null ? "" : "\u201c" + Fmt.Token(token) + "\u201d";

    /// <summary>JSON safe to put inside a script element (&lt; &gt; &amp; are escaped by the default encoder).</summary>
    internal static string Js(JsonNode node) => node.ToJsonString();
    internal static string Js(string s) => JsonValue.Create(s)!.ToJsonString();

    /// <summary>
    /// A whole page. With <paramref name="assetsHref"/> null, Plotly, the widget script and the styles are inlined
    /// (a single self-contained file); otherwise they are loaded from that relative folder.
    /// </summary>
    public static string Page(string title, string body, string? assetsHref = null)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append($"<title>{Fmt.Html(title)}</title>\n");
        if (assetsHref is null)
        {
            sb.Append("<style>\n").Append(Assets.Css).Append("</style>\n");
            sb.Append("<script>\n").Append(Assets.PlotlyJs).Append("\n</script>\n");
            sb.Append("<script>\n").Append(Assets.WidgetJs).Append("\n</script>\n");
        }
        else
        {
            var a = Fmt.Html(assetsHref.TrimEnd('/'));
            sb.Append($"<link rel=\"stylesheet\" href=\"{a}/sharplens.css\">\n");
            sb.Append($"<script src=\"{a}/plotly.min.js\"></script>\n<script src=\"{a}/sharplens.js\"></script>\n");
        }
        sb.Append("</head>\n<body>\n<main>\n").Append(body).Append("</main>\n</body>\n</html>\n");
        return sb.ToString();
    }
}
