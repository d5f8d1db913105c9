using System.Text.Json;

namespace SharpLens.Corpora;

/// <summary>JSON Lines with a "text" string field per record (the layout of OpenWebText / Pile samples); blank lines are skipped.</summary>
internal static class JsonLinesReader
{
    /// <summary>Each record's 1-based line number and text; a line that is not a JSON object with a string "text" is an error naming file and line.</summary>
    public static IEnumerable<(int Line, string Text)> Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidInputException($"corpus file {path} does not exist");
        if (info.Length == 0) throw new InvalidInputException($"corpus file {path} is empty: remove it from the corpus or give it records");
        int records = 0, number = 0;
        foreach (var line in ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(number == 1 ? line.TrimStart('\uFEFF') : line, InputFiles.DocumentOptions());
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"corpus file {path} line {number} is not JSON ({InputFiles.JsonError(e)}): JSON Lines needs one {{\"text\": \"...\"}} object per line");
            }
            if (text is null)
                throw new InvalidInputException($"corpus file {path} line {number} has no \"text\" string field: every JSON Lines record needs {{\"text\": \"...\"}}");
            records++;
            yield return (number, text);
        }
        if (records == 0) throw new InvalidInputException($"corpus file {path} holds no JSON Lines records: give it {{\"text\": \"...\"}} lines");
    }

    private static IEnumerable<string> ReadLines(string path)
    {
        // No encoding detection: a UTF-16 or UTF-32 file is refused as not UTF-8 rather than silently decoded.
        using var reader = new StreamReader(path, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false);
        while (true)
        {
            string? line;
            try { line = reader.ReadLine(); }
            catch (System.Text.DecoderFallbackException)
            {
                throw new InvalidInputException($"corpus file {path} is not UTF-8 text: convert it to UTF-8 or remove it");
            }
            if (line is null) yield break;
            if (line.Contains('\0')) throw new InvalidInputException($"corpus file {path} is binary (NUL byte), not JSON Lines: remove it from the corpus");
            yield return line;
        }
    }
}
