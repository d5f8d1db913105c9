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

    /// <summary>Reads a results.json; a missing or malformed file is an <see cref="InvalidInputException"/>.</summary>
    public static StudyResults Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"'{path}' does not exist: pass the --out folder of a `sharplens study run`");
        try
        {
            return new StudyResults(JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidInputException($"{path}: expected a JSON object"));
        }
        catch (JsonException e) { throw new InvalidInputException($"{path}: malformed JSON: {e.Message.Split('\n')[0]}"); }
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
        return node is JsonObject o && o["values"] is JsonArray ? Grid.FromJson(o) : null;
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
