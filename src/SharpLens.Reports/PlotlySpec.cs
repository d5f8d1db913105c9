using System.Text.Json.Nodes;

namespace SharpLens.Reports;

/// <summary>Builds Plotly (data, layout) JSON for the chart figures. Colours match the static renderer.</summary>
internal static class PlotlySpec
{
    /// <summary>Distance of a chart title from the top of the figure, in pixels: clear of the toolbar.</summary>
    public const int TitleTop = 34;

    public const string FontFamily = "Inter, 'Segoe UI', 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif";

    public static JsonObject Config() => new()
    {
        ["displaylogo"] = false,
        ["responsive"] = false,
        ["modeBarButtonsToRemove"] = new JsonArray("select2d", "lasso2d"),
    };

    /// <summary>Pixel size of a figure: the explicit one or one fitted to the data.</summary>
    public static (int W, int H) Size(Figure f)
    {
        (int w, int h) = f switch
        {
            HeatmapFigure hm => (Math.Clamp(hm.Cols.Count * 40 + 260, 560, 1400), Math.Clamp(hm.Rows.Count * 26 + 200, 340, 1100)),
            SmallMultiplesFigure sm => (Math.Clamp(sm.GridCols * Math.Max(300, sm.Panels.Count == 0 ? 300 : sm.Panels[0].Cols.Count * 24 + 120) + 160, 600, 1500),
                                        Math.Clamp(sm.GridRows * Math.Max(280, sm.Panels.Count == 0 ? 280 : sm.Panels[0].Rows.Count * 20 + 140) + 100, 360, 1600)),
            LineFigure l => (Math.Clamp(l.X.Count * 36 + 260, 640, 1400), 460),
            BarFigure b => (Math.Clamp(b.Categories.Count * 48 + 220, 520, 1400), 460),
            ScatterFigure => (720, 560),
            AttentionFigure a => (Math.Clamp(a.Tokens.Count * 30 + 300, 560, 1100), Math.Clamp(a.Tokens.Count * 30 + 220, 480, 1100)),
            _ => (900, 500),
        };
        return (f.Width ?? w, f.Height ?? h);
    }

    public static JsonObject Layout(Figure f)
    {
        var (w, h) = Size(f);
        return new JsonObject
        {
            // The title sits below the band of Plotly's toolbar (top 2..26 px, shown on hover at the right), so a long
            // title on a narrow figure is never drawn under it.
            ["title"] = new JsonObject
            {
                ["text"] = Fmt.Html(f.Title), ["x"] = 0.02, ["xanchor"] = "left", ["font"] = new JsonObject { ["size"] = 17 },
                ["yref"] = "container", ["y"] = 1, ["yanchor"] = "top", ["pad"] = new JsonObject { ["t"] = TitleTop },
            },
            ["width"] = w, ["height"] = h,
            ["font"] = new JsonObject { ["family"] = FontFamily, ["size"] = 13, ["color"] = "#222" },
            ["paper_bgcolor"] = "white", ["plot_bgcolor"] = "white",
            ["margin"] = new JsonObject { ["l"] = 70, ["r"] = 30, ["t"] = 60, ["b"] = 60 },
            ["hoverlabel"] = new JsonObject { ["bgcolor"] = "white", ["font"] = new JsonObject { ["size"] = 13 } },
        };
    }

    static JsonObject Axis(string? title, bool category, bool reversed = false)
    {
        var a = new JsonObject { ["automargin"] = true, ["showline"] = true, ["linecolor"] = "#888", ["ticks"] = "outside", ["tickcolor"] = "#888", ["zeroline"] = false };
        if (title is not null) a["title"] = new JsonObject { ["text"] = Fmt.Html(title) };
        if (category) a["type"] = "category";
        if (reversed) a["autorange"] = "reversed";
        return a;
    }

    static JsonObject ColorBar(string title) => new() { ["title"] = new JsonObject { ["text"] = Fmt.Html(title), ["side"] = "right" }, ["thickness"] = 14, ["outlinewidth"] = 0 };

    static JsonObject HeatmapTrace(HeatmapFigure h, string? xaxis = null, string? yaxis = null)
    {
        var t = new JsonObject
        {
            ["type"] = "heatmap",
            ["z"] = FigureData.Matrix(h.Values),
            ["x"] = FigureData.Strs(h.Cols),
            ["y"] = FigureData.Strs(h.Rows),
            ["hoverongaps"] = false,
            ["xgap"] = 1, ["ygap"] = 1,
            ["hovertemplate"] = $"{Fmt.Html(h.YTitle ?? "row")} %{{y}}<br>{Fmt.Html(h.XTitle ?? "col")} %{{x}}<br>value %{{z:.4f}}<extra></extra>",
        };
        if (xaxis is not null) { t["xaxis"] = xaxis; t["yaxis"] = yaxis; }
        return t;
    }

    /// <summary>(data, layout) for a Plotly-drawn figure; null for figures drawn with plain HTML.</summary>
    public static (JsonArray Data, JsonObject Layout)? Build(Figure f)
    {
        var layout = Layout(f);
        var data = new JsonArray();
        switch (f)
        {
            case HeatmapFigure h:
            {
                var (lo, hi) = h.ColorRange;
                var t = HeatmapTrace(h);
                t["colorscale"] = Scale(ColorScales.RdBu); t["zmin"] = lo; t["zmax"] = hi;
                t["colorbar"] = ColorBar(h.ColorbarTitle);
                data.Add(t);
                layout["xaxis"] = Axis(h.XTitle, true); layout["yaxis"] = Axis(h.YTitle, true, reversed: true);
                break;
            }
            case SmallMultiplesFigure sm:
            {
                var (lo, hi) = sm.SharedColorRange;
                int cols = sm.GridCols, rows = sm.GridRows;
                // Room for the title above the panel titles (annotations just above each top panel).
                ((JsonObject)layout["margin"]!)["t"] = 86;
                layout["grid"] = new JsonObject { ["rows"] = rows, ["columns"] = cols, ["pattern"] = "independent", ["xgap"] = 0.12, ["ygap"] = 0.22 };
                layout["coloraxis"] = new JsonObject { ["colorscale"] = Scale(ColorScales.RdBu), ["cmin"] = lo, ["cmax"] = hi, ["colorbar"] = ColorBar(sm.ColorbarTitle) };
                var ann = new JsonArray();
                for (int i = 0; i < sm.Panels.Count; i++)
                {
                    string sfx = i == 0 ? "" : (i + 1).ToString();
                    var t = HeatmapTrace(sm.Panels[i], "x" + sfx, "y" + sfx);
                    t["coloraxis"] = "coloraxis";
                    t["hovertemplate"] = $"<b>{Fmt.Html(sm.Panels[i].Title)}</b><br>" + t["hovertemplate"]!.GetValue<string>();
                    data.Add(t);
                    bool bottom = i / cols == rows - 1 || i + cols >= sm.Panels.Count, left = i % cols == 0;
                    layout["xaxis" + sfx] = Axis(bottom ? sm.XTitle : null, true);
                    layout["yaxis" + sfx] = Axis(left ? sm.YTitle : null, true, reversed: true);
                    ann.Add(new JsonObject
                    {
                        ["text"] = "<b>" + Fmt.Html(sm.Panels[i].Title) + "</b>", ["showarrow"] = false,
                        ["xref"] = $"x{sfx} domain", ["yref"] = $"y{sfx} domain", ["x"] = 0.5, ["y"] = 1.0, ["yanchor"] = "bottom", ["xanchor"] = "center",
                        ["font"] = new JsonObject { ["size"] = 14 },
                    });
                }
                layout["annotations"] = ann;
                break;
            }
            case LineFigure l:
                JsonArray X() => l.XValues is { } xv ? FigureData.Nums(xv) : FigureData.Strs(l.X);
                foreach (var band in l.Bands)
                {
                    // The upper bound as an invisible line, then the lower one filled up to it.
                    data.Add(new JsonObject
                    {
                        ["type"] = "scatter", ["mode"] = "lines", ["x"] = X(), ["y"] = FigureData.Nums(band.Upper), ["line"] = new JsonObject { ["width"] = 0 },
                        ["showlegend"] = false, ["hoverinfo"] = "skip", ["name"] = band.Name,
                    });
                    data.Add(new JsonObject
                    {
                        ["type"] = "scatter", ["mode"] = "lines", ["x"] = X(), ["y"] = FigureData.Nums(band.Lower), ["line"] = new JsonObject { ["width"] = 0 },
                        ["fill"] = "tonexty", ["fillcolor"] = "rgba(31,119,180,0.2)", ["name"] = band.Name, ["hoverinfo"] = "skip",
                    });
                }
                foreach (var s in l.Series)
                {
                    var t = new JsonObject
                    {
                        ["type"] = "scatter", ["mode"] = "lines+markers", ["name"] = s.Name,
                        ["x"] = X(), ["y"] = FigureData.Nums(s.Y),
                        ["marker"] = new JsonObject { ["size"] = 7 }, ["line"] = new JsonObject { ["width"] = 2 },
                    };
                    if (s.PointLabels is not null)
                    {
                        t["text"] = FigureData.Strs(s.PointLabels);
                        t["hovertemplate"] = "%{text}<br>%{y:.4f}<extra>%{fullData.name}</extra>";
                    }
                    else t["hovertemplate"] = "%{x}<br>%{y:.4f}<extra>%{fullData.name}</extra>";
                    data.Add(t);
                }
                layout["xaxis"] = Axis(l.XTitle, l.XValues is null); layout["yaxis"] = Axis(l.YTitle, false);
                if (l.LogX) ((JsonObject)layout["xaxis"]!)["type"] = "log";
                ((JsonObject)layout["yaxis"]!)["zeroline"] = true; ((JsonObject)layout["yaxis"]!)["gridcolor"] = "#eee";
                layout["hovermode"] = "closest";
                layout["showlegend"] = l.Series.Count + l.Bands.Count > 1;
                break;
            case ScatterFigure sc:
            {
                var marker = new JsonObject
                {
                    ["size"] = 9, ["color"] = new JsonArray(sc.Points.Select(p => (JsonNode?)p.Layer).ToArray()),
                    ["colorscale"] = Scale(ColorScales.Viridis), ["showscale"] = true, ["colorbar"] = ColorBar("layer"),
                    ["line"] = new JsonObject { ["width"] = 0.5, ["color"] = "#333" },
                };
                if (sc.Points.Count > 0) { marker["cmin"] = sc.Points.Min(p => p.Layer); marker["cmax"] = Math.Max(sc.Points.Max(p => p.Layer), sc.Points.Min(p => p.Layer) + 1); }
                data.Add(new JsonObject
                {
                    ["type"] = "scatter", ["mode"] = sc.ShowNames ? "markers+text" : "markers",
                    ["x"] = FigureData.Nums(sc.Points.Select(p => p.X)), ["y"] = FigureData.Nums(sc.Points.Select(p => p.Y)),
                    ["text"] = FigureData.Strs(sc.Points.Select(p => p.Name)), ["textposition"] = "top center",
                    ["marker"] = marker,
                    ["hovertemplate"] = $"<b>%{{text}}</b><br>{Fmt.Html(sc.XTitle ?? "x")} %{{x:.4f}}<br>{Fmt.Html(sc.YTitle ?? "y")} %{{y:.4f}}<extra></extra>",
                });
                if (sc.Diagonal && sc.Points.Count > 0)
                {
                    double lo = sc.Points.Min(p => Math.Min(p.X, p.Y)), hi = sc.Points.Max(p => Math.Max(p.X, p.Y));
                    data.Add(new JsonObject { ["type"] = "scatter", ["mode"] = "lines", ["x"] = new JsonArray(lo, hi), ["y"] = new JsonArray(lo, hi), ["line"] = new JsonObject { ["dash"] = "dot", ["color"] = "#999" }, ["hoverinfo"] = "skip", ["showlegend"] = false });
                }
                layout["xaxis"] = Axis(sc.XTitle, false); layout["yaxis"] = Axis(sc.YTitle, false);
                ((JsonObject)layout["xaxis"]!)["gridcolor"] = "#eee"; ((JsonObject)layout["yaxis"]!)["gridcolor"] = "#eee";
                layout["showlegend"] = false; layout["hovermode"] = "closest";
                break;
            }
            case BarFigure b:
            {
                var t = new JsonObject
                {
                    ["type"] = "bar", ["x"] = FigureData.Strs(b.Categories), ["y"] = FigureData.Nums(b.Values),
                    ["marker"] = new JsonObject { ["color"] = FigureData.Strs(b.Values.Select(v => v < 0 ? "#d6604d" : "#4393c3")) },
                };
                if (b.Lower is not null)
                {
                    t["error_y"] = new JsonObject
                    {
                        ["type"] = "data", ["symmetric"] = false, ["color"] = "#333", ["thickness"] = 1.5, ["width"] = 5,
                        ["array"] = FigureData.Nums(b.Values.Select((v, i) => b.Upper![i] - v)),
                        ["arrayminus"] = FigureData.Nums(b.Values.Select((v, i) => v - b.Lower[i])),
                    };
                    t["customdata"] = new JsonArray(b.Values.Select((v, i) => (JsonNode)FigureData.Nums(new[] { b.Lower[i], b.Upper![i] })).ToArray());
                    t["hovertemplate"] = "%{x}<br>%{y:.4f}<br>CI [%{customdata[0]:.4f}, %{customdata[1]:.4f}]<extra></extra>";
                }
                else t["hovertemplate"] = "%{x}<br>%{y:.4f}<extra></extra>";
                data.Add(t);
                layout["xaxis"] = Axis(b.XTitle, true); layout["yaxis"] = Axis(b.YTitle, false);
                ((JsonObject)layout["yaxis"]!)["zeroline"] = true; ((JsonObject)layout["yaxis"]!)["gridcolor"] = "#eee";
                break;
            }
            default: return null;
        }
        return (data, layout);
    }

    public static JsonArray Scale(IReadOnlyList<string> stops) =>
        new(ColorScales.ToPlotly(stops).Select(p => (JsonNode)new JsonArray(JsonValue.Create((double)p[0]), JsonValue.Create((string)p[1]))).ToArray());
}
