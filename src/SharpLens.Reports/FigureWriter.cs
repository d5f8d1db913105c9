using System.Text.Json;

namespace SharpLens.Reports;

/// <summary>Which files <see cref="FigureWriter.Write"/> produces.</summary>
[Flags]
public enum FigureFormats
{
    /// <summary>Interactive Plotly page, offline.</summary>
    Html = 1,
    /// <summary>Static PNG image (ScottPlot).</summary>
    Png = 2,
    /// <summary>Static SVG image (ScottPlot).</summary>
    Svg = 4,
    /// <summary>The figure's numbers as CSV.</summary>
    Csv = 8,
    /// <summary>The figure's numbers and labels as JSON.</summary>
    Json = 16,
    /// <summary>CSV and JSON: the numbers only.</summary>
    Data = Csv | Json,
    /// <summary>PNG and SVG: the static images.</summary>
    Static = Png | Svg,
    /// <summary>Every format.</summary>
    All = Html | Png | Svg | Csv | Json,
}

/// <summary>Paths of the files written for one figure (null where a format was not asked for).</summary>
public sealed record FigureFiles(string? Html, string? Png, string? Svg, string? Csv, string? Json);

/// <summary>Writes one figure as interactive HTML, PNG, SVG, CSV and JSON, each file atomically.</summary>
public static class FigureWriter
{
    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Writes <c>dir/baseName.{html,png,svg,csv,json}</c>. The HTML is self-contained (Plotly inlined, works offline)
    /// unless <paramref name="assetsHref"/> names a folder (relative to the HTML) holding the assets from <see cref="Assets.WriteTo"/>.
    /// <paramref name="link"/> gives the page (relative to the HTML) of a name shown in the figure, as in <see cref="HtmlRenderer.Fragment"/>.
    /// </summary>
    public static FigureFiles Write(Figure f, string dir, string baseName, FigureFormats formats = FigureFormats.All, string? assetsHref = null,
        Func<string, string?>? link = null)
    {
        Directory.CreateDirectory(dir);
        string P(string ext) => Path.Combine(dir, baseName + ext);
        string? html = null, png = null, svg = null, csv = null, json = null;
        if (formats.HasFlag(FigureFormats.Html))
        {
            var body = HtmlRenderer.Fragment(f, FigureId(baseName), link);
            AtomicFile.WriteAllText(html = P(".html"), HtmlRenderer.Page(f.Title.Length > 0 ? f.Title : baseName, body, assetsHref));
        }
        // Circuit figures are vector drawings of their own: SVG, no PNG.
        if (formats.HasFlag(FigureFormats.Png) && f is not CircuitFigure) AtomicFile.WriteAllBytes(png = P(".png"), StaticRenderer.Png(f));
        if (formats.HasFlag(FigureFormats.Svg))
            AtomicFile.WriteAllBytes(svg = P(".svg"), f is CircuitFigure cf ? System.Text.Encoding.UTF8.GetBytes(CircuitSvg.Document(cf)) : StaticRenderer.Svg(f));
        if (formats.HasFlag(FigureFormats.Csv)) AtomicFile.WriteAllText(csv = P(".csv"), FigureData.ToCsv(f));
        if (formats.HasFlag(FigureFormats.Json)) AtomicFile.WriteAllText(json = P(".json"), FigureData.ToJson(f).ToJsonString(Indented));
        return new FigureFiles(html, png, svg, csv, json);
    }

    /// <summary>The deterministic element id used for a figure written under <paramref name="baseName"/>.</summary>
    public static string FigureId(string baseName) => "fig-" + Fmt.Slug(baseName);
}
