using SharpLens.Loading;
using SharpLens.Tensors;

namespace SharpLens.Families;

/// <summary>
/// The tensors of a checkpoint as a family's weight map takes them: each by its Hugging Face key, checked against the
/// shape config.json implies (a mismatch is one line naming the tensor, the expected and the found shape, and the
/// config keys behind the expectation), each taken at most once, and at the end every tensor of the checkpoint must
/// have been taken or be a known buffer (<see cref="RequireAllUsed"/>), so a config.json that does not match its weights
/// never loads half a model.
/// </summary>
internal sealed class CheckpointTensors : IDisposable
{
    private readonly SafetensorsCheckpoint _checkpoint;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <summary>Opens the checkpoint of <paramref name="folder"/> (model.safetensors or a sharded index).</summary>
    public CheckpointTensors(string folder, Action<string>? warn)
    {
        _checkpoint = SafetensorsCheckpoint.Open(folder);
        Warn = warn;
    }

    /// <summary>The checkpoint file (or index), for messages.</summary>
    public string Path => _checkpoint.Path;
    /// <summary>Receives one-line warnings (NaN in a tensor).</summary>
    public Action<string>? Warn { get; }
    /// <summary>Every tensor name in the checkpoint.</summary>
    public IReadOnlyList<string> Names => _checkpoint.Names;

    /// <summary>Whether the checkpoint holds <paramref name="key"/>.</summary>
    public bool Has(string key) => _checkpoint.Contains(key);

    /// <summary>The storage dtype of <paramref name="key"/> ("F32", "F16", "BF16").</summary>
    public string Dtype(string key) => _checkpoint.GetDtype(key);

    /// <summary>The tensor <paramref name="key"/> as float32, required to have <paramref name="shape"/>.</summary>
    /// <param name="key">the Hugging Face key</param>
    /// <param name="because">the config.json keys that set the expected shape, for the message (e.g. "num_key_value_heads × head_dim")</param>
    /// <param name="shape">the expected shape</param>
    public Tensor Take(string key, string because, params int[] shape) =>
        TakeOptional(key, because, shape) ?? throw new InvalidCheckpointException($"missing tensor '{key}' in {Path}: the checkpoint is incomplete or config.json describes another model");

    /// <summary><see cref="Take"/>, or null when the checkpoint does not hold <paramref name="key"/>.</summary>
    public Tensor? TakeOptional(string key, string because, params int[] shape)
    {
        if (!_checkpoint.Contains(key)) return null;
        var found = _checkpoint.GetShape(key);
        if (!found.AsSpan().SequenceEqual(shape))
            throw new InvalidCheckpointException($"tensor '{key}' in {Path} has shape [{string.Join(", ", found)}], expected [{string.Join(", ", shape)}] from config.json ({because}): config.json does not match the weights");
        _used.Add(key);
        var t = _checkpoint.ReadTensor(key);
        if (Warn is not null && ContainsNaN(t)) Warn($"tensor '{key}' in {Path} contains NaN values");
        return t;
    }

    /// <summary>The tensor <paramref name="key"/> as float32 with whatever shape it has (the caller checks it), or null
    /// when absent; marks it taken.</summary>
    public Tensor? TakeUnchecked(string key)
    {
        if (!_checkpoint.Contains(key)) return null;
        _used.Add(key);
        return _checkpoint.ReadTensor(key);
    }

    /// <summary>Fails when the checkpoint holds tensors nothing took, other than buffers <paramref name="ignorable"/>
    /// recognises (causal masks, rotary caches), naming them.</summary>
    /// <param name="ignorable">known tensors that carry no weights</param>
    /// <param name="configKeys">the config.json keys that decide which tensors exist, for the message</param>
    public void RequireAllUsed(Func<string, bool> ignorable, string configKeys)
    {
        var unused = _checkpoint.Names.Where(n => !_used.Contains(n) && !ignorable(n)).Order(StringComparer.Ordinal).ToList();
        if (unused.Count == 0) return;
        string shown = string.Join(", ", unused.Take(6)) + (unused.Count > 6 ? $" and {unused.Count - 6} more" : "");
        throw new InvalidCheckpointException(
            $"{Path} holds {unused.Count} tensor(s) this model's config.json does not use ({shown}): config.json ({configKeys}) does not match the weights; fix config.json or pass the folder the weights came from");
    }

    /// <summary>Whether <paramref name="t"/> holds a NaN (loading warns about it).</summary>
    internal static bool ContainsNaN(Tensor t)
    {
        foreach (float x in t.Data) if (float.IsNaN(x)) return true;
        return false;
    }

    /// <summary>Closes the checkpoint's files.</summary>
    public void Dispose() => _checkpoint.Dispose();
}
