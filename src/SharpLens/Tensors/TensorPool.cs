namespace SharpLens.Tensors;

/// <summary>
/// Float arrays that a forward pass has finished with, kept to be lent again to a later activation of the same length.
/// A forward pass allocates the same few shapes in every block (ln outputs, q/k/v, scores, the MLP's
/// <c>[rows, d_mlp]</c> buffers); fresh arrays for each of them cost more than the arithmetic around them, because
/// new memory reaches the process as zero-filled pages one page fault at a time (at 8 windows × 128 tokens on
/// GPT-2 small: ~370 MB of new pages, ~90,000 faults per pass). A pass always recycles within itself; a caller that
/// runs many passes of one shape (the neuron index) passes one pool in <c>ForwardOptions.Pool</c> and reuses the
/// arrays across passes as well.
/// </summary>
/// <remarks>Thread-safe. Holds at most <see cref="CapacityBytes"/>; arrays given back beyond that are left to the GC.
/// Only arrays nobody can read any more may be given back: the forward pass decides that, see
/// <c>ForwardContext.Release</c>.</remarks>
public sealed class TensorPool
{
    private readonly Dictionary<int, Stack<float[]>> _free = [];
    private readonly Lock _lock = new();
    private long _bytes;

    /// <summary>A pool that keeps at most <paramref name="capacityBytes"/> of free arrays (default 512 MiB).</summary>
    public TensorPool(long capacityBytes = 512L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        CapacityBytes = capacityBytes;
    }

    /// <summary>The most memory the free arrays may hold.</summary>
    public long CapacityBytes { get; }

    /// <summary>Memory held by free arrays now.</summary>
    public long FreeBytes { get { lock (_lock) return _bytes; } }

    /// <summary>A free array of exactly <paramref name="length"/> elements (contents arbitrary), or a new uninitialized one.</summary>
    public float[] Take(int length)
    {
        lock (_lock)
        {
            if (_free.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                _bytes -= (long)length * sizeof(float);
                return stack.Pop();
            }
        }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Take"/>; the caller must not touch it afterwards.</summary>
    public void Give(float[] array)
    {
        long bytes = (long)array.Length * sizeof(float);
        lock (_lock)
        {
            if (_bytes + bytes > CapacityBytes) return;
            if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
            _bytes += bytes;
        }
    }

    /// <summary>Drops every free array (they are collected like any garbage).</summary>
    public void Clear()
    {
        lock (_lock) { _free.Clear(); _bytes = 0; }
    }
}
