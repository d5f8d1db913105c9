using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpLens.Tests.InputFiles;

/// <summary>How a file is laid out, which decides the mutations it gets and which of them must be refused.</summary>
public enum FileFormat
{
    /// <summary>One JSON document (structural mutations as well as byte-level ones).</summary>
    Json,
    /// <summary>One JSON document per line (structural mutations of single lines).</summary>
    JsonLines,
    /// <summary>UTF-8 text (YAML, corpora): byte-level and encoding mutations.</summary>
    Text,
    /// <summary>A binary format with its own checks (safetensors, SQLite): byte-level mutations.</summary>
    Binary,
}

/// <summary>One damaged variant of a valid file.</summary>
/// <param name="Name">what was done, for failure messages ("truncated at 120", "groups.a.info.prompts -> 1e39").</param>
/// <param name="Bytes">the damaged file's content (null when <paramref name="IsFolder"/>).</param>
/// <param name="IsFolder">a folder stands where the file should be.</param>
/// <param name="MustFail">no reader may accept it: not UTF-8, not JSON, empty, a folder (decided by an oracle, not by the reader).</param>
public sealed record Mutation(string Name, byte[]? Bytes, bool IsFolder, bool MustFail);

/// <summary>
/// Damaged variants of a valid file: truncation at many offsets, byte flips, wrong encodings (UTF-16/32, invalid UTF-8,
/// a byte order mark, NUL bytes), an empty file, a folder; for JSON also wrong types per field, ragged arrays, missing
/// keys, huge numbers, NaN and Infinity (as strings and as bare literals), duplicate keys and deep nesting. Deterministic
/// for a seed.
/// </summary>
public static class FileMutations
{
    /// <summary><paramref name="count"/> mutations of <paramref name="valid"/> (about a third byte-level, the rest structural for JSON).</summary>
    public static IReadOnlyList<Mutation> Of(byte[] valid, FileFormat format, int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<Mutation>
        {
            new("empty file", [], false, true),
            new("a folder in place of the file", null, true, true),
            Encoded("UTF-16 LE with BOM", valid, Encoding.Unicode, format),
            Encoded("UTF-16 BE with BOM", valid, Encoding.BigEndianUnicode, format),
            Encoded("UTF-32 LE with BOM", valid, Encoding.UTF32, format),
            Check("UTF-8 byte order mark", [0xEF, 0xBB, 0xBF, .. valid], format),
        };
        int byteLevel = format is FileFormat.Json or FileFormat.JsonLines ? count / 3 : count - list.Count;
        // Truncation at evenly spread offsets, and just before the end (a last line or closing bracket cut off).
        int cuts = byteLevel / 2;
        for (int i = 0; i < cuts && valid.Length > 1; i++)
        {
            int at = i < 4 ? valid.Length - 1 - i : (int)((long)valid.Length * (i - 4) / Math.Max(1, cuts - 4));
            list.Add(Check($"truncated at byte {at} of {valid.Length}", valid[..at], format));
        }
        while (list.Count < byteLevel + 6)
        {
            var b = (byte[])valid.Clone();
            switch (rng.Next(5))
            {
                case 0:
                    for (int k = rng.Next(1, 4); k > 0; k--) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    list.Add(Check("random bytes overwritten", b, format));
                    break;
                case 1:
                    int at = rng.Next(b.Length);
                    list.Add(Check($"invalid UTF-8 (0xC3 0x28) at byte {at}", [.. b[..at], 0xC3, 0x28, .. b[at..]], format));
                    break;
                case 2:
                    int nul = rng.Next(b.Length);
                    list.Add(Check($"NUL byte at {nul}", [.. b[..nul], 0, .. b[nul..]], format));
                    break;
                case 3:
                    int from = rng.Next(b.Length), len = Math.Min(b.Length - from, rng.Next(1, 64));
                    list.Add(Check($"{len} bytes deleted at {from}", [.. b[..from], .. b[(from + len)..]], format));
                    break;
                default:
                    rng.NextBytes(b);
                    list.Add(Check("every byte random", b, format));
                    break;
            }
        }
        if (format is FileFormat.Json or FileFormat.JsonLines)
            while (list.Count < count) list.Add(Structural(valid, format, rng));
        return list;
    }

    private static Mutation Encoded(string name, byte[] valid, Encoding encoding, FileFormat format)
    {
        // Re-encode the file's text (with the encoding's preamble); binary files get the preamble in front.
        byte[] body = format == FileFormat.Binary ? valid : encoding.GetBytes(Encoding.UTF8.GetString(valid));
        return new(name, [.. encoding.GetPreamble(), .. body], false, format != FileFormat.Binary);
    }

    private static Mutation Check(string name, byte[] bytes, FileFormat format) => new(name, bytes, false, MustFail(bytes, format));

    /// <summary>The oracle: what no reader of the format may accept.</summary>
    public static bool MustFail(byte[] bytes, FileFormat format)
    {
        if (format == FileFormat.Binary) return bytes.Length == 0;
        if (Utf8Text(bytes) is not string text) return true;
        return format switch
        {
            FileFormat.Json => !IsJson(text),
            FileFormat.JsonLines => text.Split('\n').Any(l => l.Trim().Length > 0 && !IsJson(l)),
            _ => text.Trim('\uFEFF').Length == 0,
        };
    }

    /// <summary>The text when <paramref name="bytes"/> are UTF-8 without NUL bytes (a UTF-8 BOM allowed), else null.</summary>
    private static string? Utf8Text(byte[] bytes)
    {
        if (bytes.Length == 0 || Array.IndexOf(bytes, (byte)0) >= 0) return null;
        try
        {
            string text = new UTF8Encoding(false, true).GetString(bytes);
            return text.TrimStart('\uFEFF').Length == 0 ? null : text;
        }
        catch (DecoderFallbackException) { return null; }
    }

    // Lenient (comments, trailing commas, nesting as deep as the tokenizer files allow) so that only what no JSON reader
    // of ours accepts counts as must-fail.
    private static bool IsJson(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text.TrimStart('\uFEFF'), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 });
            return doc.RootElement.ValueKind != JsonValueKind.Null;
        }
        catch (JsonException) { return false; }
    }

    private static readonly Func<JsonNode?>[] WrongValues =
    [
        () => null, () => true, () => 0, () => -1, () => 1.5, () => "x", () => "", () => new JsonArray(), () => new JsonObject(),
        () => new JsonArray(1, 2), () => new JsonObject { ["a"] = 1 }, () => new JsonArray(new JsonArray(1), new JsonArray()),
    ];

    private static readonly string[] HugeNumbers =
        ["1e308", "-1e308", "1e39", "3.5e38", "2147483648", "-2147483649", "9223372036854775808", "1e-320", "-0", "123456789012", "1e5000"];

    private static readonly string[] NonFiniteStrings = ["\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"nan\"", "\"1e999\""];

    /// <summary>A structural mutation of one field of the document (or, for JSON Lines, of one line's document).</summary>
    private static Mutation Structural(byte[] valid, FileFormat format, Random rng)
    {
        string text = Encoding.UTF8.GetString(valid);
        if (format == FileFormat.JsonLines)
        {
            var lines = text.Split('\n');
            var candidates = Enumerable.Range(0, lines.Length).Where(i => lines[i].Trim().Length > 0).ToList();
            int li = candidates[rng.Next(candidates.Count)];
            var (name, line) = MutateDocument(lines[li], rng);
            lines[li] = line;
            return Check($"line {li + 1}: {name}", Encoding.UTF8.GetBytes(string.Join('\n', lines)), format);
        }
        var (what, mutated) = MutateDocument(text, rng);
        return Check(what, Encoding.UTF8.GetBytes(mutated), format);
    }

    private static (string Name, string Text) MutateDocument(string json, Random rng)
    {
        var root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip })!;
        var places = new List<(JsonNode Parent, string? Key, int Index, string Path)>();
        Collect(root, "", places);
        if (places.Count == 0) return ("(no fields) replaced by []", "[]");
        var (parent, key, index, path) = places[rng.Next(places.Count)];
        JsonNode? current = key is not null ? parent[key] : parent[index];
        void Replace(JsonNode? value)
        {
            if (key is not null) parent[key] = value;
            else parent[index] = value;
        }
        string Raw(string token)
        {
            // A number literal that System.Text.Json nodes cannot hold is spliced into the text.
            const string Marker = "\"__sharplens_fuzz_marker__\"";
            Replace("__sharplens_fuzz_marker__");
            return root.ToJsonString().Replace(Marker, token);
        }
        switch (rng.Next(9))
        {
            case 0:
                if (key is not null) ((JsonObject)parent).Remove(key);
                else ((JsonArray)parent).RemoveAt(index);
                return ($"{path} removed", root.ToJsonString());
            case 1:
            case 2:
                var value = WrongValues[rng.Next(WrongValues.Length)]();
                Replace(value);
                return ($"{path} -> {value?.ToJsonString() ?? "null"}", root.ToJsonString());
            case 3:
                // Ragged: an array loses its last element or gains one of another type.
                var arrays = places.Select(p => p.Key is not null ? p.Parent[p.Key] : p.Parent[p.Index]).OfType<JsonArray>().Where(a => a.Count > 0).ToList();
                if (arrays.Count == 0) goto default;
                var array = current is JsonArray { Count: > 0 } here ? here : arrays[rng.Next(arrays.Count)];
                if (rng.Next(2) == 0) { array.RemoveAt(array.Count - 1); return ($"{PathOf(array)} lost its last element", root.ToJsonString()); }
                array.Add(rng.Next(2) == 0 ? array[0]?.DeepClone() : "extra");
                return ($"{PathOf(array)} gained an element", root.ToJsonString());
            case 4:
            {
                string n = HugeNumbers[rng.Next(HugeNumbers.Length)];
                return ($"{path} -> {n}", Raw(n));
            }
            case 5:
            {
                string n = NonFiniteStrings[rng.Next(NonFiniteStrings.Length)];
                return ($"{path} -> {n}", Raw(n));
            }
            case 6:
            {
                string n = new[] { "NaN", "Infinity", "-Infinity" }[rng.Next(3)];
                return ($"{path} -> bare {n}", Raw(n));
            }
            case 7:
                if (parent is JsonObject && key is not null)
                {
                    // A duplicate key: the text gets the member twice.
                    string member = $"{JsonSerializer.Serialize(key)}:{current?.ToJsonString() ?? "null"}";
                    string s = root.ToJsonString();
                    string opened = parent.ToJsonString();
                    int at = s.IndexOf(opened, StringComparison.Ordinal);
                    if (at >= 0 && opened.Length > 2) return ($"{path} duplicated", s[..(at + 1)] + member + "," + s[(at + 1)..]);
                }
                goto default;
            default:
                return (rng.Next(2) == 0 ? ($"{path} nested 200 deep", Raw(new string('[', 200) + new string(']', 200)))
                    : ($"{path} -> a 20,000-character string", Raw(JsonSerializer.Serialize(new string('w', 20_000)))));
        }
    }

    private static string PathOf(JsonNode node) => node.GetPath();

    private static void Collect(JsonNode? node, string path, List<(JsonNode, string?, int, string)> places)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o.ToList())
                {
                    string p = path.Length == 0 ? k : $"{path}.{k}";
                    places.Add((o, k, -1, p));
                    Collect(v, p, places);
                }
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                {
                    // Long arrays (grids) would dominate the draw: their first and last elements stand for them.
                    if (a.Count > 6 && i > 1 && i < a.Count - 1) continue;
                    string p = $"{path}[{i}]";
                    places.Add((a, null, i, p));
                    Collect(a[i], p, places);
                }
                break;
        }
    }
}
