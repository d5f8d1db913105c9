using SharpLens.Analysis;
using SharpLens.Analysis.Statistics;

namespace SharpLens.Reports;

/// <summary>
/// A figure: a description of what to draw, independent of the output format.
/// <see cref="FigureWriter"/> turns it into interactive HTML (Plotly), PNG/SVG (ScottPlot) and CSV/JSON data.
/// </summary>
public abstract class Figure
{
    /// <summary>Figure title, shown above the plot.</summary>
    public string Title { get; set; } = "";
    /// <summary>X axis title (columns for heatmaps).</summary>
    public string? XTitle { get; set; }
    /// <summary>Y axis title (rows for heatmaps).</summary>
    public string? YTitle { get; set; }
    /// <summary>Preferred width in pixels; null picks one from the data.</summary>
    public int? Width { get; set; }
    /// <summary>Preferred height in pixels; null picks one from the data.</summary>
    public int? Height { get; set; }
    /// <summary>Short machine name of the figure kind ("heatmap", "line", ...), written into the JSON.</summary>
    public abstract string Kind { get; }
}

/// <summary>
/// A labelled matrix drawn with a diverging red-white-blue scale centred on 0 (negative red, positive blue).
/// Rows are drawn top to bottom (layer 0 at the top), as TransformerLens' imshow does.
/// </summary>
public sealed class HeatmapFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "heatmap";
    /// <summary>[rows, cols]; NaN cells are left blank.</summary>
    public double[,] Values { get; }
    /// <summary>Row labels, top to bottom (e.g. layers "0".."11").</summary>
    public IReadOnlyList<string> Rows { get; }
    /// <summary>Column labels, left to right (e.g. positions "We_1" or heads "0".."11").</summary>
    public IReadOnlyList<string> Cols { get; }
    /// <summary>Fixed colour range; when null the range is symmetric: [-max|v|, +max|v|].</summary>
    public double? ZMin { get; set; }
    /// <summary>Upper end of the fixed colour range (see <see cref="ZMin"/>).</summary>
    public double? ZMax { get; set; }
    /// <summary>Title of the colour bar (e.g. "logit diff").</summary>
    public string ColorbarTitle { get; set; } = "";

    /// <summary>A heatmap of <paramref name="values"/> [rows, cols]; the label lists must match its sizes.</summary>
    public HeatmapFigure(double[,] values, IReadOnlyList<string> rows, IReadOnlyList<string> cols)
    {
        if (values.GetLength(0) != rows.Count || values.GetLength(1) != cols.Count)
            throw new ArgumentException($"values [{values.GetLength(0)}, {values.GetLength(1)}] do not match {rows.Count} rows x {cols.Count} cols");
        Values = values; Rows = rows; Cols = cols;
    }

    /// <summary>The colour range actually used: the fixed one, or the symmetric one around 0.</summary>
    public (double Min, double Max) ColorRange
    {
        get
        {
            if (ZMin is double lo && ZMax is double hi) return (lo, hi);
            var m = ColorScales.MaxAbs(Values);
            return (ZMin ?? -m, ZMax ?? m);
        }
    }

    /// <summary>A heatmap of a grid's values, with the grid's title and axis titles.</summary>
    public static HeatmapFigure FromGrid(Grid grid, string? title = null) =>
        new(ToMatrix(grid), grid.Rows, grid.Cols)
        {
            Title = title ?? grid.Title ?? "",
            YTitle = grid.RowTitle,
            XTitle = grid.ColTitle,
        };

    internal static double[,] ToMatrix(Grid g)
    {
        var m = new double[g.Rows.Count, g.Cols.Count];
        for (int r = 0; r < g.Rows.Count; r++)
            for (int c = 0; c < g.Cols.Count; c++) m[r, c] = g[r, c];
        return m;
    }
}

/// <summary>One line of a <see cref="LineFigure"/>.</summary>
/// <param name="Name">Legend name.</param>
/// <param name="Y">One value per category of the figure.</param>
/// <param name="PointLabels">Optional per-point hover labels such as "7_attn_out".</param>
public sealed record LineSeries(string Name, IReadOnlyList<double> Y, IReadOnlyList<string>? PointLabels = null);

/// <summary>A shaded interval under the lines of a <see cref="LineFigure"/> (e.g. a confidence band); NaN bounds leave gaps.</summary>
/// <param name="Name">Legend name ("95% CI").</param>
/// <param name="Lower">One lower bound per x value.</param>
/// <param name="Upper">One upper bound per x value.</param>
public sealed record LineBand(string Name, IReadOnlyList<double> Lower, IReadOnlyList<double> Upper);

/// <summary>
/// Lines over shared x values: categories (layers, components, positions), or numbers when <see cref="XValues"/> is set
/// (on a log axis with <see cref="LogX"/>), with optional shaded bands drawn under them.
/// </summary>
public sealed class LineFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "line";
    /// <summary>The shared categorical x values.</summary>
    public IReadOnlyList<string> X { get; }
    /// <summary>The lines, each with one y value per x value.</summary>
    public List<LineSeries> Series { get; } = new();
    /// <summary>Shaded bands (drawn under the lines), each with one bound pair per x value.</summary>
    public List<LineBand> Bands { get; } = new();
    /// <summary>Numeric positions of the x values (then the axis is numeric and <see cref="X"/> only labels the points), or null for categories.</summary>
    public IReadOnlyList<double>? XValues { get; private set; }
    /// <summary>With <see cref="XValues"/>: a logarithmic x axis (every x value must be positive).</summary>
    public bool LogX { get; private set; }

    /// <summary>Lines over <paramref name="x"/>; every series needs one value per x value.</summary>
    public LineFigure(IReadOnlyList<string> x, params LineSeries[] series)
    {
        X = x;
        foreach (var s in series) Add(s);
    }

    /// <summary>Adds a line (checked against <see cref="X"/>) and returns this figure.</summary>
    public LineFigure Add(LineSeries s)
    {
        if (s.Y.Count != X.Count) throw new ArgumentException($"series '{s.Name}' has {s.Y.Count} values for {X.Count} x values");
        if (s.PointLabels is not null && s.PointLabels.Count != X.Count) throw new ArgumentException($"series '{s.Name}' needs one point label per x value");
        Series.Add(s);
        return this;
    }

    /// <summary>Puts the x values on a numeric axis at <paramref name="values"/> (logarithmic when <paramref name="log"/>); returns this figure.</summary>
    public LineFigure WithNumericX(IReadOnlyList<double> values, bool log)
    {
        if (values.Count != X.Count) throw new ArgumentException($"{values.Count} x positions for {X.Count} x values");
        if (log && values.Any(v => !(v > 0))) throw new ArgumentException("a log x axis needs positive x values");
        XValues = values; LogX = log;
        return this;
    }

    /// <summary>Adds a shaded band (checked against <see cref="X"/>) and returns this figure.</summary>
    public LineFigure Add(LineBand band)
    {
        if (band.Lower.Count != X.Count || band.Upper.Count != X.Count) throw new ArgumentException($"band '{band.Name}' needs one bound pair per x value");
        Bands.Add(band);
        return this;
    }

    /// <summary>One line per grid row, x = grid columns.</summary>
    public static LineFigure FromGridRows(Grid g, string? title = null)
    {
        var f = new LineFigure(g.Cols) { Title = title ?? g.Title ?? "", XTitle = g.ColTitle };
        for (int r = 0; r < g.Rows.Count; r++)
            f.Add(new LineSeries(g.Rows[r], Enumerable.Range(0, g.Cols.Count).Select(c => (double)g[r, c]).ToArray()));
        return f;
    }
}

/// <summary>One point of a <see cref="ScatterFigure"/>: <paramref name="Name"/> is the hover name (e.g. "L7H11").</summary>
public sealed record ScatterPoint(double X, double Y, string Name, int Layer);

/// <summary>Points coloured by layer, with a hover name per point.</summary>
public sealed class ScatterFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "scatter";
    /// <summary>The points, in drawing order.</summary>
    public List<ScatterPoint> Points { get; } = new();
    /// <summary>Also write each point's name next to it (not only on hover).</summary>
    public bool ShowNames { get; set; }
    /// <summary>Draw the y = x diagonal (useful for "clean vs corrupted" plots).</summary>
    public bool Diagonal { get; set; }

    /// <summary>A scatter of <paramref name="points"/> (more can be added to <see cref="Points"/>).</summary>
    public ScatterFigure(IEnumerable<ScatterPoint>? points = null)
    {
        if (points is not null) Points.AddRange(points);
    }
}

/// <summary>Bars with optional asymmetric error bars (confidence intervals).</summary>
public sealed class BarFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "bar";
    /// <summary>Bar labels, left to right.</summary>
    public IReadOnlyList<string> Categories { get; }
    /// <summary>Bar heights, one per category.</summary>
    public IReadOnlyList<double> Values { get; }
    /// <summary>Lower / upper ends of the interval (absolute values, not offsets); null for no error bars.</summary>
    public IReadOnlyList<double>? Lower { get; }
    /// <summary>Upper ends of the intervals (see <see cref="Lower"/>).</summary>
    public IReadOnlyList<double>? Upper { get; }

    /// <summary>Bars of <paramref name="values"/> per category, with error bars when both <paramref name="lower"/> and
    /// <paramref name="upper"/> are given (one per category).</summary>
    public BarFigure(IReadOnlyList<string> categories, IReadOnlyList<double> values,
        IReadOnlyList<double>? lower = null, IReadOnlyList<double>? upper = null)
    {
        if (values.Count != categories.Count) throw new ArgumentException("one value per category");
        if ((lower is null) != (upper is null)) throw new ArgumentException("give both lower and upper, or neither");
        if (lower is not null && (lower.Count != values.Count || upper!.Count != values.Count)) throw new ArgumentException("one interval per category");
        Categories = categories; Values = values; Lower = lower; Upper = upper;
    }

    /// <summary>
    /// Mean of each category's samples with a normal-approximation interval mean ± z·sd/√n
    /// (<see cref="Normal.MeanInterval"/>; z = 1.96 for 95%).
    /// </summary>
    public static BarFigure FromSamples(IReadOnlyList<string> categories, IReadOnlyList<IReadOnlyList<double>> samples, double z = 1.96)
    {
        var intervals = samples.Select(s => Normal.MeanInterval(s, z)).ToArray();
        return new BarFigure(categories, intervals.Select(i => i.Mean).ToArray(), intervals.Select(i => i.Lower).ToArray(),
            intervals.Select(i => i.Upper).ToArray());
    }

    /// <summary>Bars for one grid row (default the first), with 95% intervals from its per-prompt values when present.</summary>
    public static BarFigure FromGridRow(Grid g, int row = 0, string? title = null)
    {
        BarFigure f;
        if (g.PerPrompt is { } pp)
        {
            int prompts = pp.Dim(0), cols = g.Cols.Count;
            var samples = new List<IReadOnlyList<double>>();
            for (int c = 0; c < cols; c++)
                samples.Add(Enumerable.Range(0, prompts).Select(p => (double)pp.Data[(p * g.Rows.Count + row) * cols + c]).ToArray());
            f = FromSamples(g.Cols, samples);
        }
        else f = new BarFigure(g.Cols, Enumerable.Range(0, g.Cols.Count).Select(c => (double)g[row, c]).ToArray());
        f.Title = title ?? g.Title ?? ""; f.XTitle = g.ColTitle;
        return f;
    }
}

/// <summary>
/// The same kind of heatmap for several groups, side by side, with one SHARED colour scale
/// (symmetric around 0 over all panels unless <see cref="ZMin"/>/<see cref="ZMax"/> are set).
/// </summary>
public sealed class SmallMultiplesFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "small_multiples";
    /// <summary>The panels; each panel's <see cref="Figure.Title"/> is its group name.</summary>
    public List<HeatmapFigure> Panels { get; } = new();
    /// <summary>Panels per row.</summary>
    public int Columns { get; set; } = 3;
    /// <summary>Lower end of the shared colour range; null = symmetric around 0 over all panels.</summary>
    public double? ZMin { get; set; }
    /// <summary>Upper end of the shared colour range; null = symmetric around 0 over all panels.</summary>
    public double? ZMax { get; set; }
    /// <summary>Title of the one shared colour bar.</summary>
    public string ColorbarTitle { get; set; } = "";

    /// <summary>Small multiples of <paramref name="panels"/> (more can be added to <see cref="Panels"/>).</summary>
    public SmallMultiplesFigure(IEnumerable<HeatmapFigure>? panels = null)
    {
        if (panels is not null) Panels.AddRange(panels);
    }

    /// <summary>One panel per named grid (e.g. per prompt group).</summary>
    public static SmallMultiplesFigure FromGrids(IEnumerable<KeyValuePair<string, Grid>> groups, string title = "")
    {
        var f = new SmallMultiplesFigure { Title = title };
        foreach (var (name, g) in groups) f.Panels.Add(HeatmapFigure.FromGrid(g, name));
        if (f.Panels.Count > 0) { f.XTitle = f.Panels[0].XTitle; f.YTitle = f.Panels[0].YTitle; }
        return f;
    }

    /// <summary>The one colour range every panel uses.</summary>
    public (double Min, double Max) SharedColorRange
    {
        get
        {
            if (ZMin is double lo && ZMax is double hi) return (lo, hi);
            double m = Panels.Count == 0 ? 1 : Panels.Max(p => ColorScales.MaxAbs(p.Values));
            return (ZMin ?? -m, ZMax ?? m);
        }
    }

    internal int GridRows => (Panels.Count + Math.Max(1, Columns) - 1) / Math.Max(1, Columns);
    internal int GridCols => Math.Min(Math.Max(1, Columns), Math.Max(1, Panels.Count));
}

/// <summary>One head's attention pattern: <paramref name="Pattern"/> is [destination (query), source (key)].</summary>
public sealed record AttentionHead(string Name, double[,] Pattern)
{
    /// <summary>The head's canonical name (<c>L7H11</c>) and its pattern [query_pos, key_pos], as
    /// <see cref="ComponentActivations.HeadPattern"/> returns it.</summary>
    public AttentionHead(HeadId head, float[,] pattern) : this(head.ToString(), ToDouble(pattern)) { }

    private static double[,] ToDouble(float[,] m)
    {
        var d = new double[m.GetLength(0), m.GetLength(1)];
        for (int r = 0; r < m.GetLength(0); r++)
            for (int c = 0; c < m.GetLength(1); c++) d[r, c] = m[r, c];
        return d;
    }
}

/// <summary>
/// Attention patterns of chosen heads on one prompt (like CircuitsVis attention_heads): tokens on both axes,
/// a selector over heads with thumbnails, and hovering a token shows where it attends and what attends to it.
/// </summary>
public sealed class AttentionFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "attention";
    /// <summary>The prompt's tokens, on both axes of every pattern.</summary>
    public IReadOnlyList<string> Tokens { get; }
    /// <summary>The heads shown, each with a [tokens, tokens] pattern.</summary>
    public List<AttentionHead> Heads { get; } = new();

    /// <summary>Attention patterns over <paramref name="tokens"/> of the given <paramref name="heads"/>.</summary>
    public AttentionFigure(IReadOnlyList<string> tokens, IEnumerable<AttentionHead>? heads = null)
    {
        Tokens = tokens;
        if (heads is not null) foreach (var h in heads) Add(h);
    }

    /// <summary>Adds a head whose pattern must be [tokens, tokens]; returns this figure.</summary>
    public AttentionFigure Add(AttentionHead h)
    {
        if (h.Pattern.GetLength(0) != Tokens.Count || h.Pattern.GetLength(1) != Tokens.Count)
            throw new ArgumentException($"head {h.Name}: pattern must be [{Tokens.Count}, {Tokens.Count}]");
        Heads.Add(h);
        return this;
    }

    /// <summary>Token labels made unique by position ("We_1"), as used on the axes.</summary>
    public IReadOnlyList<string> PositionLabels => Tokens.Select((t, i) => $"{t}_{i}").ToArray();
}

/// <summary>One prompt of a <see cref="NeuronTextFigure"/>: <paramref name="Activations"/> is [neuron, token].</summary>
public sealed record NeuronTextPrompt(IReadOnlyList<string> Tokens, double[,] Activations)
{
    /// <summary>The prompt's tokens and each neuron's activations on them ([neuron] of [token], as
    /// <c>ComponentActivations.NeuronActivations</c> returns them).</summary>
    public NeuronTextPrompt(IReadOnlyList<string> tokens, IReadOnlyList<float[]> activations) : this(tokens, ToMatrix(activations, tokens.Count)) { }

    private static double[,] ToMatrix(IReadOnlyList<float[]> rows, int tokens)
    {
        var m = new double[rows.Count, tokens];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length != tokens) throw new ArgumentException($"neuron {r} has {rows[r].Length} activations for {tokens} tokens");
            for (int c = 0; c < tokens; c++) m[r, c] = rows[r][c];
        }
        return m;
    }
}

/// <summary>
/// Text coloured by neuron activation (like CircuitsVis text_neuron_activations / basic_neuron_vis):
/// one or more neurons (a selector), one or more prompts, value on hover; fixed or automatic range.
/// </summary>
public sealed class NeuronTextFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "neuron_text";
    /// <summary>Neuron labels, e.g. "L8N2744", one per row of each prompt's activations.</summary>
    public IReadOnlyList<string> Neurons { get; }
    /// <summary>The prompts, each with its [neuron, token] activations.</summary>
    public List<NeuronTextPrompt> Prompts { get; } = new();
    /// <summary>Fixed range; when null the range is symmetric around 0 over all neurons and prompts.</summary>
    public double? Min { get; set; }
    /// <summary>Upper end of the fixed range (see <see cref="Min"/>).</summary>
    public double? Max { get; set; }

    /// <summary>Activations of <paramref name="neurons"/> (labelled by their canonical names) on the given <paramref name="prompts"/>.</summary>
    public NeuronTextFigure(IEnumerable<NeuronId> neurons, IEnumerable<NeuronTextPrompt>? prompts = null)
        : this(neurons.Select(n => n.ToString()).ToArray(), prompts) { }

    /// <summary>Activations of <paramref name="neurons"/> on the given <paramref name="prompts"/>.</summary>
    public NeuronTextFigure(IReadOnlyList<string> neurons, IEnumerable<NeuronTextPrompt>? prompts = null)
    {
        Neurons = neurons;
        if (prompts is not null) foreach (var p in prompts) Add(p);
    }

    /// <summary>Adds a prompt whose activations must be [neurons, tokens]; returns this figure.</summary>
    public NeuronTextFigure Add(NeuronTextPrompt p)
    {
        if (p.Activations.GetLength(0) != Neurons.Count || p.Activations.GetLength(1) != p.Tokens.Count)
            throw new ArgumentException($"activations must be [{Neurons.Count} neurons, {p.Tokens.Count} tokens]");
        Prompts.Add(p);
        return this;
    }

    /// <summary>The colour range actually used: the fixed one, or the symmetric one around 0.</summary>
    public (double Min, double Max) ColorRange
    {
        get
        {
            if (Min is double lo && Max is double hi) return (lo, hi);
            double m = Prompts.Count == 0 ? 1 : Prompts.Max(p => ColorScales.MaxAbs(p.Activations));
            return (Min ?? -m, Max ?? m);
        }
    }
}

/// <summary>One predicted token of a <see cref="TopKRow"/>.</summary>
public sealed record TopKEntry(string Token, double Logit, double Probability);

/// <summary>Top-k predictions for one prompt, with the answer's rank (1 = top) when known.</summary>
public sealed record TopKRow(string Prompt, IReadOnlyList<TopKEntry> Top, string? Answer = null, int? AnswerRank = null);

/// <summary>Top-k prediction table: token, logit, probability per prompt, and the rank of the answer.</summary>
public sealed class TopKTable : Figure
{
    /// <inheritdoc/>
    public override string Kind => "topk";
    /// <summary>One row per prompt.</summary>
    public List<TopKRow> Rows { get; } = new();
    /// <summary>A table of <paramref name="rows"/> (more can be added to <see cref="Rows"/>).</summary>
    public TopKTable(IEnumerable<TopKRow>? rows = null) { if (rows is not null) Rows.AddRange(rows); }

    internal TableFigure ToTable()
    {
        var t = new TableFigure(new[] { "prompt", "answer", "answer rank", "#", "token", "logit", "prob" }) { Title = Title };
        foreach (var r in Rows)
            for (int i = 0; i < r.Top.Count; i++)
            {
                var e = r.Top[i];
                t.Rows.Add(new[]
                {
                    i == 0 ? r.Prompt : "", i == 0 ? r.Answer ?? "" : "", i == 0 ? r.AnswerRank?.ToString() ?? "" : "",
                    (i + 1).ToString(), Fmt.Token(e.Token), Fmt.Num(e.Logit, 3), Fmt.Num(e.Probability, 4),
                });
            }
        return t;
    }
}

/// <summary>A plain table of strings (settings, scalars such as "clean_logit_diff").</summary>
public sealed class TableFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "table";
    /// <summary>Column headers.</summary>
    public IReadOnlyList<string> Columns { get; }
    /// <summary>The rows, one string per column.</summary>
    public List<string[]> Rows { get; } = new();
    /// <summary>A table with <paramref name="columns"/> and the given <paramref name="rows"/>.</summary>
    public TableFigure(IReadOnlyList<string> columns, IEnumerable<string[]>? rows = null)
    {
        Columns = columns;
        if (rows is not null) Rows.AddRange(rows);
    }
}
