namespace SharpLens.Neurons.Indexing;

/// <summary>
/// The k best windows of every neuron of one layer, kept in place as one min-heap per neuron (the root is the
/// worst kept example, so a new window is compared against one number). Order: higher activation first, ties
/// broken by the lower window id, so every run, shard split and merge keeps exactly the same examples.
/// </summary>
internal sealed class TopExampleHeaps
{
    public readonly int K, Neurons;
    /// <summary>[neuron · k] heap slots.</summary>
    public readonly float[] Activation;
    public readonly long[] Window;
    public readonly int[] Position, Token;
    /// <summary>[neuron · k] the neuron's activation at every position of the window (float16), for shading the text.</summary>
    public readonly Half[][] Values;
    public readonly int[] Filled;
    /// <summary>Neurons whose examples changed since the last save.</summary>
    public readonly bool[] Dirty;
    /// <summary>
    /// [neuron · k] the stored row (0 to k - 1) of the example at each heap slot. Heap order moves examples between
    /// slots; the row stays with its example, and a new example takes the row of the one it evicts, so a checkpoint
    /// writes one row per example that entered since the last one (<see cref="RowDirty"/>), not the neuron's whole list.
    /// </summary>
    public readonly int[] Row;
    /// <summary>[neuron · k] rows whose example changed since the last save.</summary>
    public readonly bool[] RowDirty;
    /// <summary>Every row must be written again, and stored rows of these neurons dropped first: the heaps were filled
    /// from a file (a resume or a merge), whose row numbers they do not keep.</summary>
    public bool RewriteAll;

    public TopExampleHeaps(int neurons, int k)
    {
        K = k; Neurons = neurons;
        Activation = new float[neurons * k];
        Window = new long[neurons * k];
        Position = new int[neurons * k];
        Token = new int[neurons * k];
        Values = new Half[neurons * k][];
        Filled = new int[neurons];
        Dirty = new bool[neurons];
        Row = new int[neurons * k];
        RowDirty = new bool[neurons * k];
    }

    /// <summary>Marks every example saved (after a checkpoint).</summary>
    public void ClearDirty()
    {
        Array.Clear(Dirty);
        Array.Clear(RowDirty);
        RewriteAll = false;
    }

    /// <summary>True when (activation, window) would enter neuron <paramref name="n"/>'s top k.</summary>
    public bool Admits(int n, float activation, long window) =>
        Filled[n] < K || Worse(Activation[n * K], Window[n * K], activation, window);

    /// <summary>a is worse than b: lower activation, or equal activation and a later window.</summary>
    public static bool Worse(float actA, long winA, float actB, long winB) => actA < actB || (actA == actB && winA > winB);

    /// <summary>Adds an example with a copy of its <paramref name="values"/> (the caller checked <see cref="Admits"/>).</summary>
    public void Add(int n, float activation, long window, int position, int token, ReadOnlySpan<Half> values) =>
        values.CopyTo(Add(n, activation, window, position, token, values.Length));

    /// <summary>
    /// Adds an example (the caller checked <see cref="Admits"/>), evicting the worst when full, and returns the array of
    /// <paramref name="length"/> values the caller must fill with the neuron's activation at each position of the window.
    /// The evicted example's array is reused when its length matches (full windows always do), so a running index
    /// allocates nothing once every heap is full: on GPT-2 small the windows that enter a heap would otherwise be
    /// hundreds of thousands of small arrays per batch early in a corpus.
    /// </summary>
    public Half[] Add(int n, float activation, long window, int position, int token, int length)
    {
        int baseIndex = n * K;
        Dirty[n] = true;
        if (Filled[n] < K)
        {
            int i = Filled[n]++;
            var fresh = new Half[length];
            Set(baseIndex + i, activation, window, position, token, fresh);
            Row[baseIndex + i] = i;
            RowDirty[baseIndex + i] = true;
            while (i > 0)
            {
                int parent = (i - 1) / 2;
                if (!Worse(Activation[baseIndex + i], Window[baseIndex + i], Activation[baseIndex + parent], Window[baseIndex + parent])) break;
                Swap(baseIndex + i, baseIndex + parent);
                i = parent;
            }
            return fresh;
        }
        var values = Values[baseIndex].Length == length ? Values[baseIndex] : new Half[length];
        Set(baseIndex, activation, window, position, token, values);
        RowDirty[baseIndex + Row[baseIndex]] = true;
        int at = 0;
        while (true)
        {
            int l = 2 * at + 1, r = l + 1, worst = at;
            if (l < K && Worse(Activation[baseIndex + l], Window[baseIndex + l], Activation[baseIndex + worst], Window[baseIndex + worst])) worst = l;
            if (r < K && Worse(Activation[baseIndex + r], Window[baseIndex + r], Activation[baseIndex + worst], Window[baseIndex + worst])) worst = r;
            if (worst == at) break;
            Swap(baseIndex + at, baseIndex + worst);
            at = worst;
        }
        return values;
    }

    private void Set(int i, float activation, long window, int position, int token, Half[] values)
    {
        Activation[i] = activation; Window[i] = window; Position[i] = position; Token[i] = token; Values[i] = values;
    }

    private void Swap(int a, int b)
    {
        (Activation[a], Activation[b]) = (Activation[b], Activation[a]);
        (Window[a], Window[b]) = (Window[b], Window[a]);
        (Position[a], Position[b]) = (Position[b], Position[a]);
        (Token[a], Token[b]) = (Token[b], Token[a]);
        (Values[a], Values[b]) = (Values[b], Values[a]);
        (Row[a], Row[b]) = (Row[b], Row[a]);
    }
}
