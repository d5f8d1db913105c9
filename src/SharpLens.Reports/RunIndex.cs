using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace SharpLens.Reports;

/// <summary>An index page over a folder of runs: every sub-folder with a <see cref="RunManifest"/> (report.json) or an index.html.</summary>
public static class RunIndex
{
    /// <summary>
    /// Writes <c>rootDir/index.html</c> listing every run folder under it (kind, model, creation time, figures); returns
    /// its path. A damaged report.json (not UTF-8, not JSON, not an object, a key twice) does not stop the index: that
    /// run is listed by its folder name, and <paramref name="warn"/> is told why.
    /// </summary>
    public static string Write(string rootDir, string title = "SharpLens runs", Action<string>? warn = null)
    {
        Directory.CreateDirectory(rootDir);
        var rows = new StringBuilder();
        int n = 0;
        foreach (var sub in Directory.GetDirectories(rootDir).OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal))
        {
            string name = Path.GetFileName(sub), runTitle = name, kind = "", model = "", created = "", figures = "", entry = "index.html";
            var metaPath = Path.Combine(sub, RunManifest.FileName);
            if (File.Exists(metaPath) || Directory.Exists(metaPath))
            {
                try
                {
                    var meta = InputFiles.ReadJson(metaPath, "report manifest") as JsonObject
                        ?? throw new InvalidInputException($"report manifest '{metaPath}' is not a JSON object");
                    runTitle = meta["title"]?.ToString() ?? name;
                    kind = meta["kind"]?.ToString() ?? "";
                    model = meta["model"]?.ToString() ?? "";
                    created = Created(meta["created"]?.ToString());
                    figures = (meta["figures"] as JsonArray)?.Count.ToString(CultureInfo.InvariantCulture) ?? "";
                    // Only a plain file name inside the folder: the index never links elsewhere.
                    if (meta["entry"]?.ToString() is { Length: > 0 } e && e == Path.GetFileName(e)) entry = e;
                }
                catch (Exception e) when (e is SharpLensException or InvalidOperationException)
                {
                    (runTitle, kind, model, created, figures, entry) = (name, "", "", "", "", "index.html");
                    warn?.Invoke($"{(e is SharpLensException ? e.Message : $"report manifest '{metaPath}' is malformed ({e.Message})")}; listed by its folder name");
                }
            }
            if (!File.Exists(Path.Combine(sub, entry))) continue;
            n++;
            string href = Uri.EscapeDataString(name) + "/" + Uri.EscapeDataString(entry);
            rows.Append($"<tr data-kind=\"{Fmt.Html(kind)}\"><td><a href=\"{href}\">{Fmt.Html(runTitle)}</a></td><td>{Fmt.Html(kind)}</td><td><code>{Fmt.Html(name)}</code></td>")
                .Append($"<td>{Fmt.Html(model)}</td><td class=\"sl-created\">{Fmt.Html(created)}</td><td class=\"num\">{figures}</td></tr>\n");
        }
        var body = $"<h1>{Fmt.Html(title)}</h1>\n<p class=\"sl-sub\">{n} run{(n == 1 ? "" : "s")}</p>\n" +
                   "<table class=\"sl-table sl-runs\"><thead><tr><th>report</th><th>kind</th><th>folder</th><th>model</th><th>created</th><th>figures</th></tr></thead><tbody>\n" +
                   rows + "</tbody></table>\n";
        // the index has no plots: inline only the style sheet
        var page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + Fmt.Html(title) + "</title>\n<style>\n" + Assets.Css +
                   "</style>\n</head>\n<body>\n<main>\n" + body + "</main>\n</body>\n</html>\n";
        var path = Path.Combine(rootDir, "index.html");
        AtomicFile.WriteAllText(path, page);
        return path;
    }

    /// <summary>"2026-12-01 04:20 UTC" from report.json's ISO 8601 time (the text itself when it does not parse).</summary>
    private static string Created(string? iso) =>
        iso is null ? "" : DateTimeOffset.TryParse(iso, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : iso;
}
