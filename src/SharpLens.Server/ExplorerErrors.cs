using System.Text.Json;

namespace SharpLens.Server;

/// <summary>Turns an exception into the one-line message the page shows: the problem and the fix, never a stack trace.</summary>
internal static class ExplorerErrors
{
    /// <summary>The message for a user's mistake, or null for a fault of the server itself.</summary>
    public static string? UserMessage(Exception e) => e switch
    {
        SharpLensException s => s.Message,
        AggregateException { InnerExceptions.Count: 1 } a => UserMessage(a.InnerException!),
        JsonException j => $"invalid JSON: {j.Message.Split('.')[0]}",
        IOException or UnauthorizedAccessException => FileErrors.Describe(e, "--reports"),   // a full disk while exporting, say
        _ => null,
    };

    /// <summary>A one-line description of any exception (internal faults name only their type).</summary>
    public static string Describe(Exception e) => UserMessage(e) ?? $"internal error ({e.GetType().Name}); see the server's console";
}
