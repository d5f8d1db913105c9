using System.Text;
using System.Text.Json.Nodes;

namespace SharpLens.Reports;

/// <summary>
/// One run's report: an HTML page that puts the run's figures in order with titles, captions, the prompts,
/// the model and the settings. <see cref="Write"/> produces <c>index.html</c>, <c>report.json</c>, <c>assets/</c>
/// (Plotly etc., so it works offline) and <c>figures/NN-name.{html,png,svg,csv,json}</c>.
/// </summary>
public sealed class Report
{
    abstract record Item;
    sealed record SectionItem(string Title, string? Text) : Item;
    sealed record FigureItem(Figure Figure, string? Caption) : Item;
    sealed record PromptsItem(string Title, IReadOnlyList<string> Prompts) : Item;

    readonly List<Item> items = new();

    /// <summary>An empty report titled <paramref name="title"/>.</summary>
    public Report(string title) { Title = title; }

    /// <summary>Page title and heading.</summary>
    public string Title { get; set; }
    /// <summary>Model name, e.g. "gpt2-small".</summary>
    public string? Model { get; set; }
    /// <summary>When the run was made; shown on the page and the run index (null: not shown).</summary>
    public DateTimeOffset? Created { get; set; }
    /// <summary>Settings of the run (shown as a table, in insertion order).</summary>
    public List<KeyValuePair<string, string>> Metadata { get; } = new();
    /// <summary>Also write PNG and SVG of every figure (slower; HTML, CSV and JSON are always written).</summary>
    public bool StaticImages { get; set; } = true;

    /// <summary>Adds a setting to <see cref="Metadata"/> (formatted with the invariant culture); returns this report.</summary>
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

    /// <summary>Number of figures added so far.</summary>
    public int FigureCount => items.OfType<FigureItem>().Count();

    /// <summary>Writes the report into <paramref name="dir"/>; returns the path of its index.html.</summary>
    public string Write(string dir)
    {
        Directory.CreateDirectory(dir);
        Assets.WriteTo(Path.Combine(dir, "assets"));
        var body = new StringBuilder();
        body.Append($"<h1>{Fmt.Html(Title)}</h1>\n<p class=\"sl-sub\">");
        var sub = new List<string>();
        if (Model is not null) sub.Add("model <b>" + Fmt.Html(Model) + "</b>");
        if (Created is { } c) sub.Add(Fmt.Html(c.ToString("yyyy-MM-dd HH:mm 'UTC'zzz", System.Globalization.CultureInfo.InvariantCulture)));
        sub.Add($"{FigureCount} figure{(FigureCount == 1 ? "" : "s")}");
        body.Append(string.Join(" · ", sub)).Append("</p>\n");
        if (Metadata.Count > 0)
            body.Append("<h2 id=\"settings\">Settings</h2>\n").Append(HtmlRenderer.Table(new[] { "setting", "value" }, Metadata.Select(kv => new[] { kv.Key, kv.Value }))).Append('\n');

        int fig = 0, sec = 0;
        var figsJson = new JsonArray();
        foreach (var item in items)
        {
            switch (item)
            {
                case SectionItem s:
                    body.Append($"<h2 id=\"section-{++sec}\">{Fmt.Html(s.Title)}</h2>\n");
                    if (s.Text is not null)
                        foreach (var para in s.Text.Replace("\r\n", "\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
                            body.Append($"<p>{Fmt.Html(para.Trim())}</p>\n");
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
                    var files = FigureWriter.Write(f.Figure, Path.Combine(dir, "figures"), baseName, formats, assetsHref: "../assets");
                    body.Append($"<figure id=\"figure-{fig}\">\n");
                    body.Append(HtmlRenderer.Fragment(f.Figure, FigureWriter.FigureId(baseName)));
                    body.Append("<figcaption>");
                    body.Append($"<b>Figure {fig}.</b> {Fmt.Html(f.Caption ?? f.Figure.Title)}");
                    body.Append("<div class=\"sl-links\">");
                    foreach (var (label, path) in new[] { ("html", files.Html), ("png", files.Png), ("svg", files.Svg), ("csv", files.Csv), ("json", files.Json) })
                        if (path is not null) body.Append($"<a href=\"figures/{Fmt.Html(Path.GetFileName(path))}\">{label}</a>");
                    body.Append("</div></figcaption>\n</figure>\n");
                    figsJson.Add(new JsonObject { ["n"] = fig, ["kind"] = f.Figure.Kind, ["title"] = f.Figure.Title, ["caption"] = f.Caption, ["base"] = "figures/" + baseName });
                    break;
                }
            }
        }
        var index = Path.Combine(dir, "index.html");
        AtomicFile.WriteAllText(index, HtmlRenderer.Page(Title, body.ToString(), "assets"));
        var meta = new JsonObject
        {
            ["title"] = Title, ["model"] = Model, ["created"] = Created?.ToString("o"),
            ["settings"] = new JsonObject(Metadata.GroupBy(kv => kv.Key).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Last().Value))),
            ["figures"] = figsJson,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, "report.json"), meta.ToJsonString(FigureWriter.Indented));
        return index;
    }
}

/// <summary>An index page over a folder of reports (each sub-folder holding a report's index.html).</summary>
public static class RunIndex
{
    /// <summary>Writes <c>rootDir/index.html</c> listing every run folder under it; returns its path.</summary>
    public static string Write(string rootDir, string title = "SharpLens runs")
    {
        Directory.CreateDirectory(rootDir);
        var rows = new StringBuilder();
        int n = 0;
        foreach (var sub in Directory.GetDirectories(rootDir).OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal))
        {
            if (!File.Exists(Path.Combine(sub, "index.html"))) continue;
            string name = Path.GetFileName(sub), runTitle = name, model = "", created = "", figures = "";
            var metaPath = Path.Combine(sub, "report.json");
            if (File.Exists(metaPath))
            {
                try
                {
                    var meta = JsonNode.Parse(File.ReadAllText(metaPath))!;
                    runTitle = meta["title"]?.ToString() ?? name;
                    model = meta["model"]?.ToString() ?? "";
                    created = meta["created"]?.ToString() ?? "";
                    figures = (meta["figures"] as JsonArray)?.Count.ToString() ?? "";
                }
                catch (System.Text.Json.JsonException) { }
            }
            n++;
            rows.Append($"<tr><td><a href=\"{Uri.EscapeDataString(name)}/index.html\">{Fmt.Html(runTitle)}</a></td><td><code>{Fmt.Html(name)}</code></td><td>{Fmt.Html(model)}</td><td>{Fmt.Html(created)}</td><td class=\"num\">{figures}</td></tr>\n");
        }
        var body = $"<h1>{Fmt.Html(title)}</h1>\n<p class=\"sl-sub\">{n} run{(n == 1 ? "" : "s")}</p>\n" +
                   "<table class=\"sl-table sl-runs\"><thead><tr><th>report</th><th>folder</th><th>model</th><th>created</th><th>figures</th></tr></thead><tbody>\n" +
                   rows + "</tbody></table>\n";
        // the index has no plots: inline only the style sheet
        var page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + Fmt.Html(title) + "</title>\n<style>\n" + Assets.Css +
                   "</style>\n</head>\n<body>\n<main>\n" + body + "</main>\n</body>\n</html>\n";
        var path = Path.Combine(rootDir, "index.html");
        AtomicFile.WriteAllText(path, page);
        return path;
    }
}
