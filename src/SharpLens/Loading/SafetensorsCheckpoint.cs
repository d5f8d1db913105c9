using System.Text.Json;
using SharpLens.Tensors;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Loading;

/// <summary>
/// The weights of a model folder: either one <c>model.safetensors</c> or a sharded set described by
/// <c>model.safetensors.index.json</c> (<c>weight_map</c>: tensor name -> shard file). Exposes one read
/// API over all shards.
/// </summary>
public sealed class SafetensorsCheckpoint : ITensorReader
{
    /// <summary>File name of an unsharded checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";
    /// <summary>File name of the index of a sharded checkpoint (its <c>weight_map</c> names each tensor's shard).</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, SafetensorsFile> _byName;
    private readonly List<SafetensorsFile> _files;
    private readonly List<string> _names;

    /// <summary>The file opened: model.safetensors or the index.</summary>
    public string Path { get; }

    /// <summary>The shard files (one for an unsharded checkpoint).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    private SafetensorsCheckpoint(string path, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> byName, List<string> names)
    {
        Path = path;
        _files = files;
        _byName = byName;
        _names = names;
    }

    /// <summary>
    /// Opens a checkpoint: <paramref name="path"/> is a model folder, a .safetensors file or a
    /// model.safetensors.index.json file.
    /// </summary>
    public static SafetensorsCheckpoint Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(path))
        {
            string single = System.IO.Path.Combine(path, SingleFileName);
            string index = System.IO.Path.Combine(path, IndexFileName);
            if (File.Exists(single)) return OpenSingle(single);
            if (File.Exists(index)) return OpenIndex(index);
            throw new ModelNotFoundException(
                $"folder {path} has neither {SingleFileName} nor {IndexFileName}: pass a folder holding a safetensors checkpoint (convert .bin weights with transformers' save_pretrained(safe_serialization=True))");
        }
        if (!File.Exists(path))
            throw new ModelNotFoundException($"checkpoint {path} does not exist: check the path or download the model again");
        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(path) : OpenSingle(path);
    }

    private static SafetensorsCheckpoint OpenSingle(string file)
    {
        var f = SafetensorsFile.Open(file);
        var byName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var n in f.Names) byName[n] = f;
        return new SafetensorsCheckpoint(file, [f], byName, [.. f.Names]);
    }

    /// <summary>Distinct shard file names of an index, in first-use order; validates the index.</summary>
    public static IReadOnlyList<string> ReadShardNames(string indexPath) => ParseIndex(indexPath).Shards;

    private static (List<(string name, string shard)> Map, List<string> Shards) ParseIndex(string indexPath)
    {
        string fix = "the index is corrupt; download the model again";
        byte[] bytes;
        try { bytes = File.ReadAllBytes(indexPath); }
        catch (FileNotFoundException e) { throw new ModelNotFoundException($"index {indexPath} does not exist: check the path or download the model again", e); }
        // JsonDocument checks UTF-8 only in the strings it is asked for: check the whole file, so damage is this one line.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new InvalidCheckpointException($"index {indexPath} is not valid UTF-8 text: {fix}");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException e)
        {
            throw new InvalidCheckpointException($"index {indexPath} is not valid JSON ({SafetensorsFile.OneLine(e.Message)}): {fix}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new InvalidCheckpointException($"index {indexPath} has no weight_map object: {fix}");
            var map = new List<(string, string)>();
            var shards = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var seenNames = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidCheckpointException($"index {indexPath} maps tensor '{p.Name}' to a non-string shard: {fix}");
                string shard = p.Value.GetString()!;
                if (!IsSafeRelativeFileName(shard))
                    throw new InvalidCheckpointException($"index {indexPath} names shard '{shard}' outside the model folder: {fix}");
                if (!seenNames.Add(p.Name))
                    throw new InvalidCheckpointException($"index {indexPath} lists tensor '{p.Name}' twice: {fix}");
                map.Add((p.Name, shard));
                if (seen.Add(shard)) shards.Add(shard);
            }
            return (map, shards);
        }
    }

    /// <summary>A relative path with no rooted, empty, "." or ".." parts (so it stays inside a folder).</summary>
    internal static bool IsSafeRelativeFileName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('\\') || name.Contains('\0') || System.IO.Path.IsPathRooted(name) || name.Contains(':'))
            return false;
        foreach (var part in name.Split('/'))
            if (part.Length == 0 || part == "." || part == "..") return false;
        return true;
    }

    private static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        var (map, shards) = ParseIndex(indexPath);
        string dir = System.IO.Path.GetDirectoryName(indexPath)!;
        var files = new List<SafetensorsFile>();
        var byShard = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var shard in shards)
            {
                string p = System.IO.Path.Combine(dir, shard);
                if (!File.Exists(p))
                    throw new InvalidCheckpointException($"shard {p} listed in {indexPath} is missing: download the model again");
                var f = SafetensorsFile.Open(p);
                files.Add(f);
                byShard[shard] = f;
            }
            var byName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            var names = new List<string>(map.Count);
            foreach (var (name, shard) in map)
            {
                var f = byShard[shard];
                if (!f.Contains(name))
                    throw new InvalidCheckpointException($"tensor '{name}' is mapped to {f.Path} by {indexPath} but is not in that shard: download the model again");
                byName[name] = f;
                names.Add(name);
            }
            return new SafetensorsCheckpoint(indexPath, files, byName, names);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    private SafetensorsFile FileOf(string name)
    {
        if (_byName.TryGetValue(name, out var f)) return f;
        string some = string.Join(", ", _names.Take(3));
        throw new InvalidCheckpointException(
            $"tensor '{name}' not found in {Path} ({_names.Count} tensors{(_names.Count > 0 ? ", e.g. " + some : "")}): the checkpoint is not the expected model or uses other tensor names");
    }

    /// <inheritdoc/>
    public int[] GetShape(string name) => FileOf(name).GetShape(name);
    /// <inheritdoc/>
    public string GetDtype(string name) => FileOf(name).GetDtype(name);
    /// <inheritdoc/>
    public Tensor ReadTensor(string name) => FileOf(name).ReadTensor(name);

    /// <summary>Closes every shard file.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
