using System.Text;
using System.Text.RegularExpressions;

namespace SharpLens.Reports;

/// <summary>
/// One run's report: an HTML page that puts the run's figures in order with titles, captions, the prompts,
/// the model and the settings. <see cref="Write"/> produces <c>index.html</c>, <c>report.json</c>, <c>assets/</c>
/// (Plotly etc., so it works offline) and <c>figures/NN-name.{html,png,svg,csv,json}</c>. Apart from the creation time,
/// the same report writes the same bytes.
/// </summary>
public sealed class Report
{
    abstract record Item;
    sealed record SectionItem(string Title, string? Text) : Item;
    sealed record FigureItem(Figure Figure, string? Caption) : Item;
    sealed record PromptsItem(string Title, IReadOnlyList<string> Prompts) : Item;
    sealed record SettingsItem : Item;

    readonly List<Item> items = new();

    /// <summary>A report titled <paramref name="title"/>.</summary>
    public Report(string title) { Title = title; }

    /// <summary>Heading of the page and its title in the run index.</summary>
    public string Title { get; set; }
    /// <summary>The command that made the run, as a user types it ("study", "patch", ...); listed by the run index.</summary>
    public string Kind { get; set; } = "report";
    /// <summary>Model name, e.g. "gpt2-small".</summary>
    public string? Model { get; set; }
    /// <summary>When the run was made; shown on the page and the run index (null: the time <see cref="Write"/> is called).</summary>
    public DateTimeOffset? Created { get; set; }
    /// <summary>Settings of the run (shown as a table, in insertion order).</summary>
    public List<KeyValuePair<string, string>> Metadata { get; } = new();
    /// <summary>Also write PNG and SVG of every figure (slower; HTML, CSV and JSON are always written).</summary>
    public bool StaticImages { get; set; } = true;
    /// <summary>
    /// Pages the report links to, by the name shown (e.g. "L8N2744" to "neurons/L8N2744.html", relative to the report
    /// folder): a table cell, a neuron of a neuron-text figure or a word of a section's text equal to a name links to its page.
    /// </summary>
    public Dictionary<string, string> Links { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a setting to <see cref="Metadata"/> (formatted with the invariant culture; shown in the settings table and report.json); returns this report.</summary>
    public Report Set(string key, object? value)
    {
        Metadata.Add(new(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""));
        return this;
    }

    /// <summary>Starts a section: a heading and optional text (paragraphs split on blank lines).</summary>
    public Report AddSection(string title, string? text = null) { items.Add(new SectionItem(title, text)); return this; }

    /// <summary>Adds a figure with an optional caption.</summary>
    public Report AddFigure(Figure figure, string? caption = null) { items.Add(new FigureItem(figure, caption)); return this; }

    /// <summary>Adds a table (also written as CSV/JSON, and PNG/SVG when <see cref="StaticImages"/>).</summary>
    public Report AddTable(string title, IReadOnlyList<string> columns, IEnumerable<string[]> rows, string? caption = null) =>
        AddFigure(new TableFigure(columns, rows) { Title = title }, caption);

    /// <summary>Lists the prompts of the run.</summary>
    public Report AddPrompts(IEnumerable<string> prompts, string title = "Prompts") { items.Add(new PromptsItem(title, prompts.ToList())); return this; }

    /// <summary>Puts the settings table here instead of right under the title.</summary>
    public Report AddSettings() { items.Add(new SettingsItem()); return this; }

    /// <summary>Number of figures added so far.</summary>
    public int FigureCount => items.OfType<FigureItem>().Count();

    /// <summary>Writes the report into <paramref name="dir"/>; returns the path of its index.html.</summary>
    public string Write(string dir)
    {
        Directory.CreateDirectory(dir);
        Assets.WriteTo(Path.Combine(dir, "assets"));
        var created = Created ?? DateTimeOffset.UtcNow;
        var linkText = LinkPattern();
        string? PageLink(string name) => Links.GetValueOrDefault(name);
        string? FigureLink(string name) => Links.TryGetValue(name, out var href) ? "../" + href : null;   // figure pages live in figures/

        var body = new StringBuilder();
        body.Append($"<h1>{Fmt.Html(Title)}</h1>\n<p class=\"sl-sub\">");
        var sub = new List<string>();
        if (Model is not null) sub.Add("model <b>" + Fmt.Html(Model) + "</b>");
        sub.Add(Fmt.Html(created.ToString("yyyy-MM-dd HH:mm 'UTC'zzz", System.Globalization.CultureInfo.InvariantCulture)));
        sub.Add($"{FigureCount} figure{(FigureCount == 1 ? "" : "s")}");
        body.Append(string.Join(" · ", sub)).Append("</p>\n");
        IEnumerable<Item> all = items.OfType<SettingsItem>().Any() ? items : items.Prepend(new SettingsItem());

        int fig = 0, sec = 0;
        var figures = new List<RunFigure>();
        foreach (var item in all)
        {
            switch (item)
            {
                case SettingsItem:
                    if (Metadata.Count > 0)
                        body.Append("<h2 id=\"settings\">Settings</h2>\n").Append(HtmlRenderer.Table(new[] { "setting", "value" }, Metadata.Select(kv => new[] { kv.Key, kv.Value }))).Append('\n');
                    break;
                case SectionItem s:
                    body.Append($"<h2 id=\"section-{++sec}\">{Fmt.Html(s.Title)}</h2>\n");
                    if (s.Text is not null)
                        foreach (var para in s.Text.Replace("\r\n", "\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
                            body.Append($"<p>{WithLinks(Fmt.Html(para.Trim()), linkText)}</p>\n");
                    break;
                case PromptsItem p:
                    body.Append($"<h2 id=\"section-{++sec}\">{Fmt.Html(p.Title)}</h2>\n<ol class=\"sl-prompts\" start=\"0\">");
                    foreach (var pr in p.Prompts) body.Append($"<li><code>{Fmt.Html(pr)}</code></li>");
                    body.Append("</ol>\n");
                    break;
                case FigureItem f:
                {
                    fig++;
                    string baseName = $"{fig:00}-{Fmt.Slug(f.Figure.Title.Length > 0 ? f.Figure.Title : f.Figure.Kind)}";
                    var formats = StaticImages ? FigureFormats.All : FigureFormats.Html | FigureFormats.Data;
                    var files = FigureWriter.Write(f.Figure, Path.Combine(dir, "figures"), baseName, formats, assetsHref: "../assets", link: FigureLink);
                    body.Append($"<figure id=\"figure-{fig}\">\n");
                    body.Append(HtmlRenderer.Fragment(f.Figure, FigureWriter.FigureId(baseName), PageLink));
                    body.Append("<figcaption>");
                    body.Append($"<b>Figure {fig}.</b> {WithLinks(Fmt.Html(f.Caption ?? f.Figure.Title), linkText)}");
                    body.Append("<div class=\"sl-links\">");
                    foreach (var (label, path) in new[] { ("html", files.Html), ("png", files.Png), ("svg", files.Svg), ("csv", files.Csv), ("json", files.Json) })
                        if (path is not null) body.Append($"<a href=\"figures/{Fmt.Html(Path.GetFileName(path))}\">{label}</a>");
                    body.Append("</div></figcaption>\n</figure>\n");
                    figures.Add(new RunFigure(f.Figure.Kind, f.Figure.Title, "figures/" + baseName, f.Caption));
                    break;
                }
            }
        }
        var index = Path.Combine(dir, "index.html");
        AtomicFile.WriteAllText(index, HtmlRenderer.Page(Title, body.ToString(), "assets"));
        new RunManifest(Kind, Title, "index.html") { Model = Model, Created = created, Settings = Metadata, Figures = figures }.Write(dir);
        return index;
    }

    /// <summary>Matches any name of <see cref="Links"/> as a whole word of (HTML-escaped) text; null when there are none.</summary>
    private Regex? LinkPattern() => Links.Count == 0 ? null
        : new Regex(@"(?<![\w])(" + string.Join("|", Links.Keys.OrderByDescending(k => k.Length).Select(k => Regex.Escape(Fmt.Html(k)))) + @")(?![\w])", RegexOptions.CultureInvariant);

    private string WithLinks(string html, Regex? pattern) => pattern is null ? html
        : pattern.Replace(html, m => $"<a href=\"{Fmt.Html(Links[System.Net.WebUtility.HtmlDecode(m.Value)])}\">{m.Value}</a>");
}
