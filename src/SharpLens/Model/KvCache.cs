namespace SharpLens.Model;

/// <summary>
/// Keys and values of the positions already processed, per layer, so a later call only computes new
/// positions: used by generation and by patching (which resumes a run from the first position a patch changes).
/// Layout per layer: [batch, pos, n_key_value_heads * d_head].
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private readonly int _width;

    /// <summary>An empty cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions,
    /// with one key and one value buffer per layer of <paramref name="config"/>.</summary>
    public KvCache(ModelConfig config, int batch, int capacity)
    {
        Batch = batch;
        Capacity = capacity;
        _width = config.KeyValueHeads * config.DHead;
        // A layer's buffers are allocated when it is first used: a patched run that starts at a late block (the exact
        // patching engine's prefix caches) never touches the earlier ones, which would otherwise be most of the cache.
        _keys = new float[config.NLayers][];
        _values = new float[config.NLayers][];
    }

    /// <summary>Floats held by the layers used so far (tests: a cache for late blocks holds only those).</summary>
    internal long AllocatedFloats => _keys.Sum(k => (long)(k?.Length ?? 0)) + _values.Sum(v => (long)(v?.Length ?? 0));

    private float[] Layer(float[][] buffers, int layer) => buffers[layer] ??= new float[Batch * Capacity * _width];

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }
    /// <summary>Floats per position of one layer's keys (and values): n_key_value_heads·d_head (keys after any q/k norm and rotation).</summary>
    internal int Width => _width;
    /// <summary>Positions the buffers hold at most.</summary>
    public int Capacity { get; }
    /// <summary>Positions stored so far (equal for every layer once a forward finishes).</summary>
    public int Length { get; internal set; }

    /// <summary>[batch, capacity, n_key_value_heads*d_head]; positions [0, Length) are valid.</summary>
    public Span<float> Keys(int layer) => Layer(_keys, layer);
    /// <summary>[batch, capacity, n_key_value_heads*d_head]; positions [0, Length) are valid.</summary>
    public Span<float> Values(int layer) => Layer(_values, layer);
    internal float[] KeysArray(int layer) => Layer(_keys, layer);
    internal float[] ValuesArray(int layer) => Layer(_values, layer);

    /// <summary>Stores <paramref name="count"/> new positions starting at <paramref name="start"/>.</summary>
    /// <param name="k">[batch, count, n_key_value_heads*d_head]</param>
    /// <param name="v">[batch, count, n_key_value_heads*d_head]</param>
    /// <param name="layer">The layer whose keys and values these are.</param>
    /// <param name="start">The first position written.</param>
    /// <param name="count">Number of positions written.</param>
    internal void Write(int layer, int start, int count, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        if (start + count > Capacity)
            throw new InvalidInputException($"sequence of {start + count} positions exceeds the KV cache capacity {Capacity}");
        for (int b = 0; b < Batch; b++)
        {
            k.Slice(b * count * _width, count * _width).CopyTo(Layer(_keys, layer).AsSpan((b * Capacity + start) * _width));
            v.Slice(b * count * _width, count * _width).CopyTo(Layer(_values, layer).AsSpan((b * Capacity + start) * _width));
        }
    }

    /// <summary>Keeps only batch rows <paramref name="rows"/> (in that order, repeats allowed), e.g. to fan one prefix out to many patches.</summary>
    public KvCache Gather(IReadOnlyList<int> rows, ModelConfig config, int? capacity = null)
    {
        var copy = new KvCache(config, rows.Count, capacity ?? Capacity) { Length = Length };
        for (int l = 0; l < _keys.Length; l++)
        {
            if (_keys[l] is null) continue;   // never written: the copy's layer stays unallocated (zeros) too
            for (int i = 0; i < rows.Count; i++)
            {
                int n = Length * _width;
                _keys[l].AsSpan(rows[i] * Capacity * _width, n).CopyTo(copy.KeysArray(l).AsSpan(i * copy.Capacity * _width));
                Layer(_values, l).AsSpan(rows[i] * Capacity * _width, n).CopyTo(copy.ValuesArray(l).AsSpan(i * copy.Capacity * _width));
            }
        }
        return copy;
    }
}
