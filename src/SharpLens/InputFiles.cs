using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpLens;

/// <summary>
/// Reading the files users hand to SharpLens (inputs, results, study files, circuits, references, configs): every way
/// such a file can be unreadable (missing, a folder, empty, not UTF-8, not JSON) is one <see cref="InvalidInputException"/>
/// line that names the file, before anything else reads it. Readers then check the structure field by field, naming
/// the field.
/// </summary>
public static class InputFiles
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // Byte order marks of UTF-16 (LE, BE) and UTF-32 (BE; UTF-32 LE starts with UTF-16 LE's).
    private static readonly byte[][] OtherEncodings = [[0xFF, 0xFE], [0xFE, 0xFF], [0, 0, 0xFE, 0xFF]];

    /// <summary>
    /// The file's text, decoded as UTF-8 (a UTF-8 byte order mark is skipped). A missing file, a folder, an empty file,
    /// a UTF-16/UTF-32 file or bytes that are not UTF-8 are one-line errors naming <paramref name="what"/> and the path.
    /// </summary>
    /// <param name="path">the file.</param>
    /// <param name="what">what the file is, for messages ("study file", "results file").</param>
    /// <param name="fix">what to pass instead when the file does not exist.</param>
    public static string ReadText(string path, string what, string fix = "check the path")
    {
        var bytes = ReadBytes(path, what, fix);
        if (bytes.Length == 0) throw new InvalidInputException($"{what} '{path}' is empty: {fix}");
        int start = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        if (OtherEncodings.Any(bom => bytes.AsSpan().StartsWith(bom)))
            throw new InvalidInputException($"{what} '{path}' is UTF-16 or UTF-32 encoded: save it as UTF-8");
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0) throw new InvalidInputException($"{what} '{path}' is binary (a NUL byte at offset {nul}), not text: pass the file itself");
        try { return StrictUtf8.GetString(bytes, start, bytes.Length - start); }
        catch (DecoderFallbackException e)
        {
            throw new InvalidInputException($"{what} '{path}' is not valid UTF-8 (byte {start + e.Index} of the text): save it as UTF-8");
        }
    }

    /// <summary>The file's bytes; a missing file, a folder or an unreadable file is a one-line error.</summary>
    /// <param name="path">the file.</param>
    /// <param name="what">what the file is, for messages.</param>
    /// <param name="fix">what to pass instead when the file does not exist.</param>
    public static byte[] ReadBytes(string path, string what, string fix = "check the path")
    {
        if (Directory.Exists(path)) throw new InvalidInputException($"{what} '{path}' is a folder, not a file: {fix}");
        if (!File.Exists(path)) throw new InvalidInputException($"{what} '{path}' does not exist: {fix}");
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{what} '{path}' cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// The file parsed as JSON (<see cref="ReadText"/>, then <see cref="ParseJson"/>): malformed JSON is a one-line
    /// error with the line and column.
    /// </summary>
    /// <param name="path">the file.</param>
    /// <param name="what">what the file is, for messages.</param>
    /// <param name="fix">what to pass instead when the file does not exist.</param>
    /// <param name="lenient">allow comments and trailing commas (files people write by hand).</param>
    public static JsonNode ReadJson(string path, string what, string fix = "check the path", bool lenient = false) =>
        ParseJson(ReadText(path, what, fix), $"{what} '{path}'", lenient);

    /// <summary>Parses JSON text; malformed JSON (or a bare <c>null</c>) is a one-line error naming <paramref name="source"/>.</summary>
    /// <param name="json">the text.</param>
    /// <param name="source">names the text in messages.</param>
    /// <param name="lenient">allow comments and trailing commas.</param>
    public static JsonNode ParseJson(string json, string source, bool lenient = false)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: DocumentOptions(lenient)) ?? throw new InvalidInputException($"{source} holds only null: expected a JSON object");
        }
        catch (JsonException e) { throw new InvalidInputException($"{source} is not valid JSON: {JsonError(e)}"); }
    }

    /// <summary>
    /// How user files are parsed: a key given twice in one object is an error (a <see cref="JsonNode"/> would otherwise
    /// fail only when a reader reaches it, and a <see cref="JsonDocument"/> silently keeps one of the two values);
    /// <paramref name="lenient"/> allows comments and trailing commas (files people write by hand).
    /// </summary>
    public static JsonDocumentOptions DocumentOptions(bool lenient = false) => new()
    {
        AllowTrailingCommas = lenient, CommentHandling = lenient ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow, AllowDuplicateProperties = false,
    };

    /// <summary>
    /// Runs <paramref name="work"/>, which checks what <paramref name="path"/> says against the model or the study (a group's
    /// analyses, a prompt's length), and prefixes its one-line errors with the file when they do not name it already.
    /// </summary>
    /// <typeparam name="T">what the work returns.</typeparam>
    /// <param name="path">the file the content came from.</param>
    /// <param name="work">the checks.</param>
    public static T About<T>(string path, Func<T> work)
    {
        try { return work(); }
        catch (InvalidInputException e) when (!e.Message.Contains(Path.GetFileName(path), StringComparison.Ordinal))
        {
            throw new InvalidInputException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>"line 3, column 14: 'x' is an invalid start of a value" from a <see cref="JsonException"/>.</summary>
    public static string JsonError(JsonException e)
    {
        string reason = e.Message.Split([" Path:", " LineNumber:"], StringSplitOptions.None)[0].Split('\n')[0].Trim().TrimEnd('.');
        return e.LineNumber is { } line ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}: {reason}" : reason;
    }

    /// <summary>
    /// Runs <paramref name="read"/>, which interprets the already parsed content of a file, and turns the exceptions of a
    /// structure it did not expect (a missing key, a value of another type, an array too short) into one
    /// <see cref="InvalidInputException"/> naming the file. Readers check the fields they use and name them; this is the
    /// net under those checks, so that no file ends in a stack trace.
    /// </summary>
    /// <typeparam name="T">what the reader returns.</typeparam>
    /// <param name="subject">the file(s), as the message names them: "results file 'out/results.json'".</param>
    /// <param name="read">the reading.</param>
    public static T Interpret<T>(string subject, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or InvalidCastException or NullReferenceException
                                      or IndexOutOfRangeException or ArgumentException or FormatException or OverflowException)
        {
            throw new InvalidInputException($"{subject} has an unexpected structure ({e.GetType().Name}: {FirstLine(e.Message)}): was it written by this version of SharpLens?");
        }
    }

    /// <summary>A JSON value described for messages: "an object", "a list", "text \"abc\"", "the number 3", "true", "null".</summary>
    /// <param name="node">the value (null for JSON null or a missing member).</param>
    public static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "a list",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => $"text {Short(v.ToJsonString())}",
            JsonValueKind.Number => $"the number {Short(v.ToJsonString())}",
            _ => Short(v.ToJsonString()),
        },
        _ => "an unknown value",
    };

    private static string Short(string s) => s.Length <= 40 ? s : s[..37] + "...";

    private static string FirstLine(string s)
    {
        string line = s.Split('\n')[0].Trim();
        return line.Length <= 160 ? line : line[..157] + "...";
    }
}
