using System.Runtime.CompilerServices;

namespace SharpLens.Tensors;

/// <summary>
/// A dense float32 tensor, row-major (last axis contiguous). The only tensor type in SharpLens:
/// activations, weights and analysis results are all <see cref="Tensor"/>s with their shape written down.
/// </summary>
public sealed class Tensor
{
    /// <summary>The elements in row-major order; length = product of <see cref="Shape"/>.</summary>
    public float[] Data { get; }

    /// <summary>Size of each axis.</summary>
    public int[] Shape { get; }

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>; the element count
    /// must equal the product of the shape.</summary>
    public Tensor(float[] data, params int[] shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative axis size in shape [{string.Join(", ", shape)}]");
            count *= d;
        }
        if (count != data.Length)
            throw new ArgumentException($"data has {data.Length} elements but shape [{string.Join(", ", shape)}] needs {count}");
        Data = data;
        Shape = shape;
    }

    /// <summary>A new tensor of <paramref name="shape"/> filled with zeros.</summary>
    public static Tensor Zeros(params int[] shape) => new(new float[ElementCount(shape)], (int[])shape.Clone());

    /// <summary>
    /// A zeroed tensor for data that lives as long as a model (weights, packed weights), allocated on the pinned
    /// object heap. The GC sizes its old-generation budgets in proportion to what survives there; keeping the
    /// ~1 GB of GPT-2 weights out of gen2/LOH keeps those budgets, and so the garbage the forward pass's large
    /// buffers may pile up before a collection, small (docs/architecture.md, "Memory").
    /// </summary>
    public static Tensor ZerosLongLived(params int[] shape) => new(GC.AllocateArray<float>(ElementCount(shape), pinned: true), (int[])shape.Clone());

    /// <summary>The number of elements of a tensor of <paramref name="shape"/> (the product of its axes).</summary>
    /// <exception cref="OverflowException">More elements than one array can hold.</exception>
    internal static int ElementCount(int[] shape)
    {
        long count = 1;
        foreach (int d in shape) count *= d;
        return checked((int)count);
    }

    /// <summary>A tensor whose elements are not cleared: only for outputs that are written in full before being read.</summary>
    public static Tensor Uninitialized(params int[] shape) => new(GC.AllocateUninitializedArray<float>(ElementCount(shape)), (int[])shape.Clone());

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>.</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => new(data, shape);

    /// <summary>Number of axes.</summary>
    public int Rank => Shape.Length;
    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public int Length => Data.Length;
    /// <summary>All elements as a span, in row-major order.</summary>
    public Span<float> Span => Data;

    /// <summary>Size of axis <paramref name="axis"/>; negative counts from the end.</summary>
    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>A deep copy (data and shape).</summary>
    public Tensor Clone() => new((float[])Data.Clone(), (int[])Shape.Clone());

    /// <summary>Same data, new shape (no copy). The element count must match.</summary>
    public Tensor Reshape(params int[] shape)
    {
        int infer = Array.IndexOf(shape, -1);
        if (infer >= 0)
        {
            int known = 1;
            for (int i = 0; i < shape.Length; i++) if (i != infer) known *= shape[i];
            shape = (int[])shape.Clone();
            shape[infer] = Data.Length / known;
        }
        return new Tensor(Data, shape);
    }

    /// <summary>Row-major offset of an index.</summary>
    public int Offset(params int[] index)
    {
        if (index.Length > Shape.Length) throw new ArgumentException("too many indices");
        int offset = 0;
        for (int i = 0; i < Shape.Length; i++)
        {
            int ix = i < index.Length ? index[i] : 0;
            if ((uint)ix >= (uint)Shape[i])
                throw new IndexOutOfRangeException($"index {ix} out of range for axis {i} of size {Shape[i]}");
            offset = offset * Shape[i] + ix;
        }
        return offset;
    }

    /// <summary>Number of elements in one index of axis <paramref name="axis"/> (product of later axes).</summary>
    public int Stride(int axis)
    {
        int s = 1;
        for (int i = Shape.Length - 1; i > axis; i--) s *= Shape[i];
        return s;
    }

    /// <summary>The element at a full index (one entry per axis; fewer entries index the first element of the
    /// sub-block), checked against the shape.</summary>
    public float this[params int[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    /// <summary>The contiguous sub-block selected by leading indices, e.g. <c>t.Slice(b, p)</c> of
    /// a [batch, pos, d_model] tensor is the d_model vector at (b, p).</summary>
    public Span<float> Slice(params int[] leading)
    {
        int offset = Offset(leading);
        int size = leading.Length == 0 ? Data.Length : Stride(leading.Length - 1);
        return Data.AsSpan(offset, size);
    }

    /// <summary>Copies the sub-tensor at the leading indices into a new tensor.</summary>
    public Tensor Select(params int[] leading)
    {
        var span = Slice(leading);
        return new Tensor(span.ToArray(), Shape[leading.Length..]);
    }

    /// <summary>Whether <paramref name="other"/> has exactly this shape.</summary>
    public bool SameShape(Tensor other) => Shape.AsSpan().SequenceEqual(other.Shape);

    /// <summary>The shape written as in the docs, e.g. "[2, 7, 768]".</summary>
    public string ShapeString => "[" + string.Join(", ", Shape) + "]";

    /// <summary>"Tensor" followed by the shape, e.g. "Tensor[2, 7, 768]".</summary>
    public override string ToString() => $"Tensor{ShapeString}";

    /// <summary>Throws with a message naming <paramref name="what"/> when the shape differs.</summary>
    public void RequireShape(string what, params int[] expected)
    {
        if (!Shape.AsSpan().SequenceEqual(expected))
            throw new ShapeMismatchException($"{what}: expected shape [{string.Join(", ", expected)}], got {ShapeString}");
    }
}

/// <summary>A tensor had a shape other than the one an operation documents.</summary>
public sealed class ShapeMismatchException(string message) : SharpLensException(message);
