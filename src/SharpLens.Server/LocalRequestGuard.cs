using Microsoft.AspNetCore.Http;

namespace SharpLens.Server;

/// <summary>
/// Refuses (403) any request whose Host is not a loopback name, or whose Origin (when sent) is not this same local
/// server. Binding to 127.0.0.1 keeps other machines out; this check keeps out web pages the user visits elsewhere:
/// DNS rebinding points an attacker's host name at 127.0.0.1 (the Host header then names the attacker), and a
/// cross-site form or fetch carries the foreign page's Origin.
/// </summary>
internal static class LocalRequestGuard
{
    static readonly string[] LoopbackNames = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Why the request is refused, or null when it is local.</summary>
    public static string? Refusal(HttpRequest request)
    {
        var host = request.Host;
        if (!host.HasValue || !IsLoopbackName(host.Host))
            return $"Host '{host.Value}' is not local: open the explorer at http://127.0.0.1:{host.Port?.ToString() ?? "PORT"}/";
        string origin = request.Headers.Origin.ToString();
        if (origin.Length == 0) return null;
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme != "http" || !IsLoopbackName(uri.Host)
            || uri.Port != (host.Port ?? 80))
            return $"Origin '{origin}' is not this explorer: requests must come from its own page";
        return null;
    }

    static bool IsLoopbackName(string name) => LoopbackNames.Contains(name.ToLowerInvariant());

    /// <summary>Middleware: answers 403 with a one-line reason for foreign requests.</summary>
    public static async Task Invoke(HttpContext context, Func<Task> next)
    {
        if (Refusal(context.Request) is string reason)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new { error = reason });
            return;
        }
        await next();
    }
}
