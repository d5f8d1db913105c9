using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies;

/// <summary>
/// results.json of a study run: <c>{"study", "title", "model", "settings", "study_hash", "groups": {group: {"info": ...,
/// analysis: {...}, "patching": {sweep: {...}}}}, "comparisons": {figure: {...}}, "timings": {"group/analysis": s}}</c>.
/// Saved atomically after every finished analysis so a run can resume.
/// </summary>
public sealed class StudyResults
{
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Wraps a results.json object (not copied).</summary>
    public StudyResults(JsonObject root) { Root = root; }

    /// <summary>The whole results.json object.</summary>
    public JsonObject Root { get; }
    /// <summary>"groups": one object per group name (created when absent).</summary>
    public JsonObject Groups => (JsonObject)(Root["groups"] ??= new JsonObject());
    /// <summary>"comparisons": one object per compared figure (created when absent).</summary>
    public JsonObject Comparisons => (JsonObject)(Root["comparisons"] ??= new JsonObject());
    /// <summary>"timings": seconds per "group/analysis" (created when absent).</summary>
    public JsonObject Timings => (JsonObject)(Root["timings"] ??= new JsonObject());
    /// <summary>The model name the run recorded.</summary>
    public string? Model => Root["model"]?.ToString();

    /// <summary>The file the results were read from (for messages), or "results.json" for results built in memory.</summary>
    public string Source { get; private init; } = "results.json";

    /// <summary>
    /// Reads a results.json. A missing, empty, non-UTF-8 or malformed file, and a damaged structure (groups that are not
    /// objects, a grid whose values do not match its labels, a non-number where a number belongs) are one-line
    /// <see cref="InvalidInputException"/>s naming the file and the field.
    /// </summary>
    public static StudyResults Load(string path)
    {
        var root = InputFiles.ReadJson(path, "results file", "pass the --out folder of a `sharplens study run` or its results.json");
        if (root is not JsonObject o) throw new InvalidInputException($"results file '{path}' holds {InputFiles.Describe(root)}, not a study's results object");
        var results = new StudyResults(o) { Source = path };
        results.Validate();
        return results;
    }

    // Structure every reader relies on: groups, comparisons and timings are objects; every grid (an object with "values")
    // anywhere under groups and comparisons reads as a grid. Checked at load, so that a damaged file is refused before a
    // verify, a resume or a report starts, with the field named.
    private void Validate()
    {
        foreach (var key in new[] { "groups", "comparisons", "timings", "settings", "circuits", "study_file" })
            if (Root[key] is JsonNode n && n is not JsonObject)
                throw new InvalidInputException($"{Source}: \"{key}\" must be an object, not {InputFiles.Describe(n)}");
        foreach (var key in new[] { "study", "title", "model", "study_hash" })
            if (Root[key] is JsonNode n && !(n is JsonValue v && v.GetValueKind() == JsonValueKind.String))
                throw new InvalidInputException($"{Source}: \"{key}\" must be text, not {InputFiles.Describe(n)}");
        foreach (var (name, group) in Groups)
        {
            if (group is not JsonObject g) throw new InvalidInputException($"{Source}: groups.{name} must be an object, not {InputFiles.Describe(group)}");
            CheckGrids(g, $"groups.{name}");
        }
        CheckGrids(Comparisons, "comparisons");
        foreach (var (name, seconds) in Timings)
            if (!(seconds is JsonValue v && v.TryGetValue(out double _)))
                throw new InvalidInputException($"{Source}: timings.{name} must be a number of seconds, not {InputFiles.Describe(seconds)}");
    }

    private void CheckGrids(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject o when o.ContainsKey("values") && (o.ContainsKey("rows") || o.ContainsKey("cols")):
                Grid.FromJson(o, $"{Source}: {path}");
                break;
            case JsonObject o:
                foreach (var (key, child) in o) CheckGrids(child, $"{path}.{key}");
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++) CheckGrids(a[i], $"{path}[{i}]");
                break;
        }
    }

    /// <summary>The object of group <paramref name="name"/> (created when absent).</summary>
    public JsonObject Group(string name) => (JsonObject)(Groups[name] ??= new JsonObject());

    /// <summary>The node at "group/analysis" or "group/patching/sweep" (slash-separated), or null.</summary>
    public JsonNode? Get(string group, string path)
    {
        JsonNode? node = Groups[group];
        foreach (var part in path.Split('/')) node = node?[part];
        return node;
    }

    /// <summary>Whether a node exists at <paramref name="path"/> of <paramref name="group"/> (a finished analysis).</summary>
    public bool Has(string group, string path) => Get(group, path) is not null;

    /// <summary>Stores <paramref name="value"/> at the slash-separated <paramref name="path"/> of <paramref name="group"/>,
    /// creating the objects on the way.</summary>
    public void Set(string group, string path, JsonNode value)
    {
        var parts = path.Split('/');
        JsonObject node = Group(group);
        for (int i = 0; i < parts.Length - 1; i++) node = (JsonObject)(node[parts[i]] ??= new JsonObject());
        node[parts[^1]] = value;
    }

    /// <summary>The grid stored at path + "/grid" (or at path itself), or null.</summary>
    public Grid? GridAt(string group, string path)
    {
        var node = Get(group, path);
        if (node?["grid"] is JsonNode g) node = g;
        return node is JsonObject o && o["values"] is JsonArray ? Grid.FromJson(o, $"{Source}: groups.{group}.{path.Replace('/', '.')}") : null;
    }

    /// <summary>Writes the results to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp";
        try
        {
            File.WriteAllText(tmp, Root.ToJsonString(Json));
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            // a full disk must not leave half a results file behind (the last complete one stays)
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>First 16 hex digits of the SHA-256 of the study's normalised JSON: a run only resumes on the same study.</summary>
    internal static string Hash(JsonNode? studySource) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(studySource?.ToJsonString() ?? ""))).ToLowerInvariant()[..16];
}
