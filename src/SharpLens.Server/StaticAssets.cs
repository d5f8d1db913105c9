using Microsoft.AspNetCore.Http;
using SharpLens.Reports;

namespace SharpLens.Server;

/// <summary>
/// The page and its scripts, all embedded in the assemblies (the reports' bundled plotly.js and widgets, and the
/// explorer's own files): a fixed table of names, so no request path ever reaches the file system.
/// </summary>
internal static class StaticAssets
{
    static readonly Dictionary<string, (string Type, Lazy<string> Text)> Files = new(StringComparer.Ordinal)
    {
        ["plotly.min.js"] = ("text/javascript; charset=utf-8", new(() => Assets.PlotlyJs)),
        ["sharplens.js"] = ("text/javascript; charset=utf-8", new(() => Assets.WidgetJs)),
        ["sharplens.css"] = ("text/css; charset=utf-8", new(() => Assets.Css)),
        ["explorer.js"] = ("text/javascript; charset=utf-8", new(() => Read("explorer.js"))),
        ["explorer.css"] = ("text/css; charset=utf-8", new(() => Read("explorer.css"))),
    };

    static readonly Lazy<string> Index = new(() => Read("index.html"));

    /// <summary>Content-Security-Policy of the page: nothing may load from or talk to anywhere but this server.</summary>
    const string Policy = "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
        "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    public static IResult Page() => Html(Index.Value);

    /// <summary>An HTML page of the explorer's (with the same security headers).</summary>
    public static IResult Html(string html) => Send(html, "text/html; charset=utf-8");

    /// <summary>A bundled asset by exact name; anything else (including "../" tricks) is 404.</summary>
    public static IResult Asset(string name) => Files.TryGetValue(name, out var f) ? Send(f.Text.Value, f.Type)
        : Results.Json(new { error = $"no asset '{name}'" }, statusCode: StatusCodes.Status404NotFound);

    static IResult Send(string text, string type) => new TextResult(text, type);

    static string Read(string name)
    {
        using var s = typeof(StaticAssets).Assembly.GetManifestResourceStream("SharpLens.Server." + name)
            ?? throw new InvalidOperationException($"embedded resource {name} missing");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    sealed class TextResult(string text, string type) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.ContentType = type;
            context.Response.Headers.ContentSecurityPolicy = Policy;
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers["Referrer-Policy"] = "no-referrer";
            return context.Response.WriteAsync(text);
        }
    }
}
