using ScottPlot;
using SkiaSharp;

namespace SharpLens.Reports;

/// <summary>
/// Static PNG/SVG rendering without a browser: charts and heatmaps with ScottPlot 5, composites
/// (small multiples, attention heads) and text figures (neuron text, tables) drawn on the same SkiaSharp canvas.
/// </summary>
internal static class StaticRenderer
{
    internal const string FontName = "DejaVu Sans";
    static readonly object fontLock = new();
    static bool fontsReady;

    static void EnsureFonts()
    {
        lock (fontLock)
        {
            if (fontsReady) return;
            if (SKFontManager.Default.FontFamilies.Contains(FontName)) Fonts.Default = FontName;
            fontsReady = true;
        }
    }

    static SKTypeface Typeface(bool bold = false) =>
        SKTypeface.FromFamilyName(Fonts.Default, bold ? SKFontStyle.Bold : SKFontStyle.Normal) ?? SKTypeface.Default;

    /// <summary>Renders the figure to PNG bytes.</summary>
    public static byte[] Png(Figure f)
    {
        var (w, h, draw) = Prepare(f);
        using var surface = SKSurface.Create(new SKImageInfo(w, h)) ?? throw new InvalidOperationException("SkiaSharp could not create a surface");
        surface.Canvas.Clear(SKColors.White);
        draw(surface.Canvas);
        surface.Canvas.Flush();
        using var img = surface.Snapshot();
        using var data = img.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Renders the figure to SVG bytes (UTF-8).</summary>
    public static byte[] Svg(Figure f)
    {
        var (w, h, draw) = Prepare(f);
        using var ms = new MemoryStream();
        using (var canvas = SKSvgCanvas.Create(SKRect.Create(w, h), ms))
        {
            using var bg = new SKPaint { Color = SKColors.White };
            canvas.DrawRect(SKRect.Create(w, h), bg);
            draw(canvas);
        }
        return ms.ToArray();
    }

    /// <summary>Size and drawing action of a figure.</summary>
    internal static (int W, int H, Action<SKCanvas> Draw) Prepare(Figure f)
    {
        EnsureFonts();
        switch (f)
        {
            case HeatmapFigure hm:
            {
                var (w, h) = PlotlySpec.Size(hm);
                var plot = HeatmapPlot(hm, hm.ColorRange, new RdBuMap(), colorbar: true, hm.Title, hm.ColorbarTitle);
                return (w, h, c => plot.Render(c, w, h));
            }
            case SmallMultiplesFigure sm: return Composite(sm.Panels.Cast<HeatmapFigure>().ToList(), sm.GridCols, sm.SharedColorRange, new RdBuMap(), sm.Title, sm.ColorbarTitle, 380, 320);
            case AttentionFigure a:
            {
                var panels = a.Heads.Select(hd => new HeatmapFigure(hd.Pattern, a.PositionLabels, a.PositionLabels) { Title = hd.Name, XTitle = "source", YTitle = "destination" }).ToList();
                int size = Math.Clamp(a.Tokens.Count * 22 + 200, 360, 720);
                return Composite(panels, Math.Min(panels.Count, a.Tokens.Count > 12 ? 2 : 3), (0, 1), new ListMap("Blues", ColorScales.Blues), a.Title, "attention", size, size);
            }
            case LineFigure l:
            {
                var (w, h) = PlotlySpec.Size(l);
                var plot = NewPlot(l);
                // A log axis is drawn as log10 of the values with ticks at the powers of ten.
                var xs = l.XValues is { } xv ? xv.Select(v => l.LogX ? Math.Log10(v) : v).ToArray() : Enumerable.Range(0, l.X.Count).Select(i => (double)i).ToArray();
                foreach (var band in l.Bands)
                {
                    string legend = band.Name;   // once per band, not once per piece
                    foreach (var (from, to) in FiniteRuns(band.Lower, band.Upper))
                    {
                        var fill = plot.Add.FillY(xs[from..to], band.Lower.Skip(from).Take(to - from).ToArray(), band.Upper.Skip(from).Take(to - from).ToArray());
                        fill.FillColor = new ScottPlot.Color(31, 119, 180, 50);
                        fill.LegendText = legend;
                        legend = "";
                    }
                }
                foreach (var s in l.Series)
                {
                    // Infinite points are left out like NaN ones: ScottPlot cannot scale an axis to infinity.
                    var sc = plot.Add.Scatter(xs, s.Y.Select(y => double.IsInfinity(y) ? double.NaN : y).ToArray());
                    sc.LegendText = s.Name; sc.LineWidth = 2; sc.MarkerSize = 6;
                }
                if (l.XValues is null) CategoryTicks(plot.Axes.Bottom, l.X, plot);
                else if (l.LogX) LogTicks(plot.Axes.Bottom, xs);
                if (l.Series.Count + l.Bands.Count > 1) plot.ShowLegend(Alignment.UpperLeft);
                return (w, h, c => plot.Render(c, w, h));
            }
            case ScatterFigure s:
            {
                var (w, h) = PlotlySpec.Size(s);
                var plot = NewPlot(s);
                if (s.Points.Count > 0)
                {
                    int lo = s.Points.Min(p => p.Layer), hi = Math.Max(s.Points.Max(p => p.Layer), lo + 1);
                    foreach (var g in s.Points.GroupBy(p => p.Layer).OrderBy(g => g.Key))
                    {
                        var (r, gg, b) = ColorScales.Map(ColorScales.Viridis, g.Key, lo, hi);
                        var m = plot.Add.Markers(g.Select(p => p.X).ToArray(), g.Select(p => p.Y).ToArray());
                        m.Color = new ScottPlot.Color(r, gg, b);
                        m.MarkerSize = 9; m.LegendText = "L" + g.Key;
                    }
                    if (s.ShowNames)
                        foreach (var p in s.Points) { var t = plot.Add.Text(p.Name, p.X, p.Y); t.LabelFontSize = 11; t.LabelFontColor = ScottPlot.Colors.Black.WithAlpha(0.8); }
                    if (s.Diagonal)
                    {
                        double a = s.Points.Min(p => Math.Min(p.X, p.Y)), b = s.Points.Max(p => Math.Max(p.X, p.Y));
                        var line = plot.Add.Line(a, a, b, b); line.LinePattern = LinePattern.Dotted; line.Color = ScottPlot.Colors.Gray;
                    }
                    if (s.Points.Select(p => p.Layer).Distinct().Count() <= 16) plot.ShowLegend(Alignment.UpperLeft);
                }
                return (w, h, c => plot.Render(c, w, h));
            }
            case BarFigure b:
            {
                var (w, h) = PlotlySpec.Size(b);
                var plot = NewPlot(b);
                var bars = b.Values.Select((v, i) => new Bar
                {
                    Position = i, Value = double.IsFinite(v) ? v : 0, Size = 0.7,
                    FillColor = v < 0 ? ScottPlot.Color.FromHex("#d6604d") : ScottPlot.Color.FromHex("#4393c3"), LineWidth = 0,
                }).ToList();
                plot.Add.Bars(bars);
                if (b.Lower is not null)
                {
                    var xs = Enumerable.Range(0, b.Values.Count).Select(i => (double)i).ToArray();
                    var zero = new double[xs.Length];
                    var eb = new ScottPlot.Plottables.ErrorBar(xs, b.Values.ToArray(), zero, zero,
                        b.Values.Select((v, i) => v - b.Lower[i]).ToArray(), b.Values.Select((v, i) => b.Upper![i] - v).ToArray());
                    eb.Color = ScottPlot.Colors.Black; eb.LineWidth = 1.5f; eb.CapSize = 6;
                    plot.Add.Plottable(eb);
                }
                CategoryTicks(plot.Axes.Bottom, b.Categories, plot);
                var zl = plot.Add.HorizontalLine(0); zl.Color = ScottPlot.Colors.Gray; zl.LineWidth = 1;
                return (w, h, c => plot.Render(c, w, h));
            }
            case NeuronTextFigure n: return NeuronText(n);
            case TopKTable tk: return TextTable(tk.ToTable());
            case TableFigure t: return TextTable(t);
            default: throw new NotSupportedException(f.GetType().Name);
        }
    }

    static Plot NewPlot(Figure f)
    {
        var plot = new Plot();
        if (f.Title.Length > 0) plot.Title(f.Title, 16);
        if (f.XTitle is not null) plot.XLabel(f.XTitle, 13);
        if (f.YTitle is not null) plot.YLabel(f.YTitle, 13);
        plot.Grid.MajorLineColor = ScottPlot.Color.FromHex("#eeeeee");
        return plot;
    }

    /// <summary>[From, To) ranges of indices where both bounds are finite (a band is drawn piece by piece around gaps).</summary>
    static IEnumerable<(int From, int To)> FiniteRuns(IReadOnlyList<double> lower, IReadOnlyList<double> upper)
    {
        int start = -1;
        for (int i = 0; i <= lower.Count; i++)
        {
            bool finite = i < lower.Count && double.IsFinite(lower[i]) && double.IsFinite(upper[i]);
            if (finite && start < 0) start = i;
            if (!finite && start >= 0) { yield return (start, i); start = -1; }
        }
    }

    /// <summary>Ticks at the powers of ten over log10 positions, labelled 1, 10, 100, 1k, 10k ...</summary>
    static void LogTicks(IAxis axis, double[] log10Positions)
    {
        int lo = (int)Math.Floor(log10Positions.Min()), hi = (int)Math.Ceiling(log10Positions.Max());
        var ticks = Enumerable.Range(lo, hi - lo + 1).ToArray();
        axis.SetTicks(ticks.Select(t => (double)t).ToArray(), ticks.Select(t => t >= 3 ? $"{Math.Pow(10, t - 3):0}k" : Math.Pow(10, t).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    static void CategoryTicks(IAxis axis, IReadOnlyList<string> labels, Plot plot, bool reversed = false, int count = -1)
    {
        int n = labels.Count;
        var pos = Enumerable.Range(0, n).Select(i => (double)(reversed ? n - 1 - i : i)).ToArray();
        // thin out labels when there are too many to read
        int step = Math.Max(1, (int)Math.Ceiling(n / 48.0));
        var shown = labels.Select((l, i) => i % step == 0 ? Fmt.Token(l) : "").ToArray();
        axis.SetTicks(pos, shown);
        axis.TickLabelStyle.FontSize = n > 24 ? 10 : 12;
        if (axis is ScottPlot.AxisPanels.BottomAxis bottom)
        {
            int longest = shown.Max(s => s.Length);
            if (longest > 2 && (longest > 4 || n > 10))
            {
                bottom.TickLabelStyle.Rotation = 45;
                bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
                bottom.MinimumSize = (float)(Math.Min(longest, 28) * 6.2 * 0.75 + 34);
            }
        }
    }

    static Plot HeatmapPlot(HeatmapFigure hm, (double Min, double Max) range, IColormap cmap, bool colorbar, string title, string colorbarTitle)
    {
        var plot = new Plot();
        if (title.Length > 0) plot.Title(title, 15);
        // An infinite cell (a saved result may hold one) is drawn at its end of the colour scale; ScottPlot refuses infinities.
        var values = (double[,])hm.Values.Clone();
        for (int r = 0; r < values.GetLength(0); r++)
            for (int c = 0; c < values.GetLength(1); c++)
                if (double.IsInfinity(values[r, c])) values[r, c] = values[r, c] > 0 ? range.Max : range.Min;
        var heat = plot.Add.Heatmap(values);
        heat.Colormap = cmap;
        heat.ManualRange = new ScottPlot.Range(range.Min, range.Max);
        heat.NaNCellColor = ScottPlot.Colors.Transparent;
        if (colorbar) { var cb = plot.Add.ColorBar(heat); cb.Label = colorbarTitle; }
        CategoryTicks(plot.Axes.Bottom, hm.Cols, plot);
        CategoryTicks(plot.Axes.Left, hm.Rows, plot, reversed: true); // row 0 is drawn at the top
        if (hm.XTitle is not null) plot.XLabel(hm.XTitle, 13);
        if (hm.YTitle is not null) plot.YLabel(hm.YTitle, 13);
        plot.HideGrid();
        plot.Axes.SetLimits(-0.5, hm.Cols.Count - 0.5, -0.5, hm.Rows.Count - 0.5);
        return plot;
    }

    /// <summary>A grid of heatmap panels sharing one colour range, with a single colour bar on the right.</summary>
    static (int, int, Action<SKCanvas>) Composite(List<HeatmapFigure> panels, int cols, (double Min, double Max) range, IColormap cmap, string title, string cbTitle, int pw, int ph)
    {
        cols = Math.Max(1, Math.Min(cols, Math.Max(1, panels.Count)));
        int rows = (panels.Count + cols - 1) / cols;
        const int titleH = 40, cbW = 120;
        int w = cols * pw + cbW, h = titleH + Math.Max(1, rows) * ph;
        var plots = panels.Select(p => HeatmapPlot(p, range, cmap, colorbar: false, p.Title, "")).ToList();
        return (w, h, c =>
        {
            using var font = new SKFont(Typeface(bold: true), 17);
            using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
            if (title.Length > 0) c.DrawText(title, 12, 27, SKTextAlign.Left, font, ink);
            for (int i = 0; i < plots.Count; i++)
            {
                c.Save();
                c.Translate(i % cols * pw, titleH + i / cols * ph);
                c.ClipRect(SKRect.Create(pw, ph));
                plots[i].Render(c, pw, ph);
                c.Restore();
            }
            DrawColorBar(c, cmap, range, cbTitle, cols * pw + 16, titleH + 30, Math.Min(ph * Math.Max(1, rows) - 80, 360));
        });
    }

    static void DrawColorBar(SKCanvas c, IColormap cmap, (double Min, double Max) range, string label, float x, float y, float height)
    {
        const float bw = 16;
        for (int i = 0; i < (int)height; i++)
        {
            var col = cmap.GetColor(1 - i / (height - 1));
            using var p = new SKPaint { Color = new SKColor(col.R, col.G, col.B) };
            c.DrawRect(x, y + i, bw, 1.2f, p);
        }
        using var border = new SKPaint { Color = new SKColor(0x88, 0x88, 0x88), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        c.DrawRect(x, y, bw, height, border);
        using var font = new SKFont(Typeface(), 12);
        using var ink = new SKPaint { Color = new SKColor(0x33, 0x33, 0x33), IsAntialias = true };
        foreach (var (v, t) in new[] { (range.Max, 0.0), ((range.Min + range.Max) / 2, 0.5), (range.Min, 1.0) })
        {
            float ty = y + (float)(t * height);
            c.DrawLine(x + bw, ty, x + bw + 4, ty, border);
            c.DrawText(Fmt.Num(v, 3), x + bw + 6, ty + 4, SKTextAlign.Left, font, ink);
        }
        if (label.Length > 0) c.DrawText(label, x, y - 10, SKTextAlign.Left, font, ink);
    }

    static (int, int, Action<SKCanvas>) NeuronText(NeuronTextFigure n)
    {
        var (lo, hi) = n.ColorRange;
        const int width = 1000, pad = 16, lineH = 26;
        using var measureFont = new SKFont(SKTypeface.FromFamilyName("DejaVu Sans Mono") ?? Typeface(), 14);
        // lay out every (neuron, prompt) block
        var items = new List<(float X, float Y, float W, string Text, double V)>();
        var labels = new List<(float Y, string Text, bool Bold)>();
        float y = 44 + 30;
        for (int k = 0; k < n.Neurons.Count; k++)
        {
            labels.Add((y, "Neuron " + n.Neurons[k], true)); y += 22;
            for (int p = 0; p < n.Prompts.Count; p++)
            {
                float x = pad + 28;
                labels.Add((y + 17, "#" + p, false));
                foreach (var (tok, t) in n.Prompts[p].Tokens.Select((t, i) => (t, i)))
                {
                    var text = Fmt.Token(tok);
                    float tw = measureFont.MeasureText(text) + 4;
                    if (x + tw > width - pad) { x = pad + 28; y += lineH; }
                    items.Add((x, y, tw, text, n.Prompts[p].Activations[k, t]));
                    x += tw + 2;
                }
                y += lineH + 4;
            }
            y += 10;
        }
        int h = (int)y + pad;
        return (width, h, c =>
        {
            using var title = new SKFont(Typeface(bold: true), 17);
            using var small = new SKFont(Typeface(), 12);
            using var bold = new SKFont(Typeface(bold: true), 13);
            using var mono = new SKFont(SKTypeface.FromFamilyName("DejaVu Sans Mono") ?? Typeface(), 14);
            using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
            using var muted = new SKPaint { Color = new SKColor(0x66, 0x66, 0x66), IsAntialias = true };
            c.DrawText(n.Title.Length > 0 ? n.Title : "Neuron activations", pad, 28, SKTextAlign.Left, title, ink);
            // legend
            float lx = pad, ly = 44;
            c.DrawText(Fmt.Num(lo, 3), lx, ly + 11, SKTextAlign.Left, small, muted);
            lx += small.MeasureText(Fmt.Num(lo, 3)) + 6;
            for (int i = 0; i < 160; i++)
            {
                var (r, g, b) = ColorScales.At(ColorScales.RdBu, i / 159.0);
                using var p = new SKPaint { Color = new SKColor(r, g, b) };
                c.DrawRect(lx + i, ly, 1.2f, 12, p);
            }
            c.DrawText(Fmt.Num(hi, 3), lx + 166, ly + 11, SKTextAlign.Left, small, muted);
            foreach (var (ty, text, isBold) in labels) c.DrawText(text, pad, ty, SKTextAlign.Left, isBold ? bold : small, isBold ? ink : muted);
            foreach (var it in items)
            {
                var (r, g, b) = ColorScales.Map(ColorScales.RdBu, it.V, lo, hi);
                using var bg = new SKPaint { Color = new SKColor(r, g, b), IsAntialias = true };
                c.DrawRoundRect(it.X, it.Y, it.W, lineH - 4, 3, 3, bg);
                bool dark = 0.299 * r + 0.587 * g + 0.114 * b < 140;
                using var fg = new SKPaint { Color = dark ? SKColors.White : new SKColor(0x11, 0x11, 0x11), IsAntialias = true };
                c.DrawText(it.Text, it.X + 2, it.Y + 16, SKTextAlign.Left, mono, fg);
            }
        });
    }

    static (int, int, Action<SKCanvas>) TextTable(TableFigure t)
    {
        const int pad = 16, rowH = 24;
        using var font = new SKFont(Typeface(), 13);
        var widths = t.Columns.Select((col, i) => Math.Max(font.MeasureText(col), t.Rows.Count == 0 ? 0 : t.Rows.Max(r => i < r.Length ? font.MeasureText(r[i]) : 0)) + 20).ToArray();
        int w = (int)Math.Max(300, widths.Sum() + 2 * pad), top = t.Title.Length > 0 ? 44 : pad;
        int h = top + rowH * (t.Rows.Count + 1) + pad;
        return (w, h, c =>
        {
            using var f = new SKFont(Typeface(), 13);
            using var hb = new SKFont(Typeface(bold: true), 13);
            using var title = new SKFont(Typeface(bold: true), 17);
            using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
            using var head = new SKPaint { Color = new SKColor(0xf0, 0xf2, 0xf4) };
            using var rule = new SKPaint { Color = new SKColor(0xd8, 0xde, 0xe4), StrokeWidth = 1 };
            if (t.Title.Length > 0) c.DrawText(t.Title, pad, 28, SKTextAlign.Left, title, ink);
            c.DrawRect(pad, top, widths.Sum(), rowH, head);
            float x = pad;
            for (int i = 0; i < t.Columns.Count; i++) { c.DrawText(t.Columns[i], x + 8, top + 17, SKTextAlign.Left, hb, ink); x += widths[i]; }
            for (int r = 0; r < t.Rows.Count; r++)
            {
                float y = top + rowH * (r + 1);
                x = pad;
                for (int i = 0; i < t.Columns.Count && i < t.Rows[r].Length; i++) { c.DrawText(t.Rows[r][i], x + 8, y + 17, SKTextAlign.Left, f, ink); x += widths[i]; }
                c.DrawLine(pad, y + rowH, pad + widths.Sum(), y + rowH, rule);
            }
        });
    }

    /// <summary>Diverging red-white-blue map (negative red, positive blue), as in the HTML figures.</summary>
    sealed class RdBuMap : IColormap
    {
        public string Name => "RdBu";
        public ScottPlot.Color GetColor(double position) { var (r, g, b) = ColorScales.At(ColorScales.RdBu, position); return new ScottPlot.Color(r, g, b); }
    }

    sealed class ListMap(string name, IReadOnlyList<string> stops) : IColormap
    {
        public string Name => name;
        public ScottPlot.Color GetColor(double position) { var (r, g, b) = ColorScales.At(stops, position); return new ScottPlot.Color(r, g, b); }
    }
}
