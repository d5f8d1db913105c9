namespace SharpLens.Neurons.Indexing;

/// <summary>
/// An index in memory: one accumulator per indexed layer, the windows and documents the top examples point to,
/// and how far the run got (every window of this shard below <see cref="NextWindow"/> is in, none above).
/// </summary>
internal sealed class IndexState
{
    public IndexState(IReadOnlyList<int> layers, int neurons, int k)
    {
        Layers = layers.ToArray();
        Accumulators = Layers.Select(l => new LayerAccumulator(l, neurons, k)).ToArray();
    }

    public int[] Layers { get; }
    public LayerAccumulator[] Accumulators { get; }
    /// <summary>Windows referenced by some top example (and recent ones not yet pruned), by id.</summary>
    public Dictionary<long, TokenWindow> Windows { get; } = new();
    /// <summary>Names of the documents of <see cref="Windows"/>.</summary>
    public Dictionary<int, string> DocumentNames { get; } = new();
    /// <summary>First window id not yet processed; all earlier windows of this shard are in.</summary>
    public long NextWindow;
    /// <summary>The document holding <see cref="NextWindow"/>, and its first window id (where a resumed run starts reading).</summary>
    public int NextDocument;
    public long NextDocumentFirstWindow;
    /// <summary>Windows and tokens (BOS excluded) processed so far by this shard.</summary>
    public long WindowsDone, TokensDone;
    public bool Complete;

    public LayerAccumulator For(int layer) => Accumulators[Array.IndexOf(Layers, layer)];

    /// <summary>
    /// Bytes one top-example slot costs: activation, window id, position, token and the reference to its activations
    /// (<see cref="TopExampleHeaps"/>' arrays), plus the activations themselves (one float16 per position and an array header).
    /// </summary>
    internal static long BytesPerTopExample(int context) => 4 + 8 + 4 + 4 + 8 + 24 + 2L * context;

    /// <summary>
    /// Refuses, before any work, top-k heaps the process cannot hold: <paramref name="k"/> examples of every neuron of
    /// <paramref name="layers"/> layers must fit in half the memory available to the process (the model, the batch's
    /// activations and SQLite need the rest) and each layer's heap arrays in one .NET array.
    /// </summary>
    /// <exception cref="InvalidInputException">The heaps would not fit; the message gives the largest --top that does.</exception>
    internal static void RequireMemoryFor(int layers, int neuronsPerLayer, int k, int context, long? availableBytes = null)
    {
        long budget = (availableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) / 2;
        long perSlot = BytesPerTopExample(context);
        long neurons = (long)layers * neuronsPerLayer;
        long maxK = Math.Min(budget / (neurons * perSlot), Array.MaxLength / neuronsPerLayer);
        if (k <= maxK) return;
        double needGb = (double)neurons * k * perSlot / (1L << 30), haveGb = (double)budget / (1L << 30);
        throw new InvalidInputException($"--top {k} would keep {k:N0} examples of each of {neurons:N0} neurons, about {needGb:N1} GB, more than the {haveGb:N1} GB " +
            $"this process can give them: {(maxK >= 1 ? $"use --top {maxK:N0} or less (Neuroscope keeps 20), or " : "")}index fewer --layers or a shorter --context");
    }

    /// <summary>Drops windows no top example refers to any more (keeps memory bounded by layers · d_mlp · k windows).</summary>
    public void PruneWindows()
    {
        var referenced = new HashSet<long>();
        foreach (var acc in Accumulators)
            for (int n = 0; n < acc.Neurons; n++)
                for (int k = 0; k < acc.Top.Filled[n]; k++) referenced.Add(acc.Top.Window[n * acc.Top.K + k]);
        foreach (var id in Windows.Keys.Where(id => !referenced.Contains(id)).ToList()) Windows.Remove(id);
        var documents = Windows.Values.Select(w => w.Document).ToHashSet();
        foreach (var d in DocumentNames.Keys.Where(d => !documents.Contains(d)).ToList()) DocumentNames.Remove(d);
    }
}
