using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SharpLens.Tensors;

/// <summary>
/// A right-hand operand B[k, n] laid out once for <see cref="Gemm"/> (weights are packed at load, so a forward
/// pass never repacks them), stored as float32, bfloat16 or float16. A 16-bit matrix takes 2 bytes per element
/// (plus zero padding of the last panel to the kernel width) and is the only copy a model needs: analyses read
/// float32 values back with <see cref="CopyTo"/> or <see cref="ToArray"/>.
/// </summary>
/// <remarks>
/// Layout: ceil(N/NR) panels of K rows of NR elements; panel j, depth p holds B[p, j*NR .. j*NR+NR), zero padded.
/// float32 rows are in column order; 16-bit rows are paired (see <see cref="IPanelRow"/>): 32-bit word i holds
/// column i and column i + NR/2. A float16 matrix holding ±inf or NaN is kept as float32 (exactly), because the
/// float16 kernels widen finite values only.
/// </remarks>
internal sealed class PackedMatrix
{
    private readonly Array _storage; // float[] or ushort[], pinned

    /// <summary>Rows of B: the shared dimension of the product.</summary>
    public int K { get; }
    /// <summary>Columns of B.</summary>
    public int N { get; }
    /// <summary>How the elements are stored.</summary>
    public Dtype Dtype { get; }
    /// <summary>The micro-kernel family whose panel width the layout uses.</summary>
    internal GemmIsa Isa { get; }
    /// <summary>Panel width NR of <see cref="Isa"/>.</summary>
    internal int Nr { get; }
    /// <summary>Bytes the packed elements occupy (K * N * element size, plus panel padding).</summary>
    public long StorageBytes => (long)_storage.Length * HalfBits.Size(Dtype);
    /// <summary>The packed panels as raw bytes, for the GEMM driver.</summary>
    internal Span<byte> Panels => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(_storage), checked((int)StorageBytes));

    private PackedMatrix(Array storage, int k, int n, Dtype dtype, GemmIsa isa)
    {
        _storage = storage; K = k; N = n; Dtype = dtype; Isa = isa; Nr = MicroKernel.NrOf(isa);
    }

    /// <summary>Packs float32 values, stored as <paramref name="storage"/> (16-bit types round to nearest even).</summary>
    /// <param name="b">[k, n], or [n, k] when <paramref name="transposed"/>.</param>
    /// <param name="k">Rows of B (the shared dimension of the product).</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="transposed"><paramref name="b"/> is stored as [n, k] (a PyTorch Linear weight).</param>
    /// <param name="storage">Element type to keep; float16 falls back to float32 when a value is not a finite float16.</param>
    public static PackedMatrix Pack(ReadOnlySpan<float> b, int k, int n, bool transposed = false, Dtype storage = Dtype.F32)
    {
        CheckSize(b.Length, k, n);
        if (storage == Dtype.F16 && !FitsFloat16(b[..(k * n)])) storage = Dtype.F32;
        var isa = GemmIsaSelector.Current;
        int nr = MicroKernel.NrOf(isa);
        if (storage == Dtype.F32)
        {
            var panels = Allocate<float>(k, n, nr);
            unsafe
            {
                fixed (float* src = b, dst = panels)
                    if (panels.Length > 0) GemmPacking.PackB(src, k, n, transposed, 0, k, 0, n, nr, dst);
            }
            return new PackedMatrix(panels, k, n, Dtype.F32, isa);
        }
        var halves = Allocate<ushort>(k, n, nr);
        unsafe
        {
            fixed (float* src = b)
            fixed (ushort* dst = halves)
                if (halves.Length > 0) GemmPacking.PackPaired16(new SingleSource(src, storage), k, n, transposed, nr, dst);
        }
        return new PackedMatrix(halves, k, n, storage, isa);
    }

    /// <summary>
    /// Packs 16-bit values as stored in a checkpoint (safetensors "BF16" or "F16" raw bits), with no float32 copy of
    /// the matrix: kept as <paramref name="sourceType"/>, or widened to float32 when <paramref name="storage"/> says so.
    /// </summary>
    /// <param name="bits">[k, n], or [n, k] when <paramref name="transposed"/>, as raw <paramref name="sourceType"/> bits.</param>
    /// <param name="sourceType"><see cref="Dtype.BF16"/> or <see cref="Dtype.F16"/>.</param>
    /// <param name="k">Rows of B (the shared dimension of the product).</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="transposed"><paramref name="bits"/> is stored as [n, k] (a PyTorch Linear weight).</param>
    /// <param name="storage"><paramref name="sourceType"/> (the default) or <see cref="Dtype.F32"/>; a float16 matrix holding ±inf or NaN is kept as float32.</param>
    public static PackedMatrix Pack(ReadOnlySpan<ushort> bits, Dtype sourceType, int k, int n, bool transposed = false, Dtype? storage = null)
    {
        if (sourceType == Dtype.F32) throw new ArgumentException("16-bit source bits must be BF16 or F16; pack float32 values with the float overload", nameof(sourceType));
        var target = storage ?? sourceType;
        if (target != Dtype.F32 && target != sourceType)
            throw new ArgumentException($"cannot store {sourceType} bits as {target} without rounding; keep {sourceType} or widen to F32", nameof(storage));
        CheckSize(bits.Length, k, n);
        if (target == Dtype.F16 && HasNonFiniteF16(bits[..(k * n)])) target = Dtype.F32;
        var isa = GemmIsaSelector.Current;
        int nr = MicroKernel.NrOf(isa);
        Array storageArray;
        unsafe
        {
            fixed (ushort* src = bits)
            {
                if (target == Dtype.F32)
                {
                    var panels = Allocate<float>(k, n, nr);
                    fixed (float* dst = panels)
                        if (panels.Length > 0) GemmPacking.PackWidened(src, sourceType, k, n, transposed, nr, dst);
                    storageArray = panels;
                }
                else
                {
                    var halves = Allocate<ushort>(k, n, nr);
                    fixed (ushort* dst = halves)
                        if (halves.Length > 0) GemmPacking.PackPaired16(new Bits16Source(src), k, n, transposed, nr, dst);
                    storageArray = halves;
                }
            }
        }
        return new PackedMatrix(storageArray, k, n, target, isa);
    }

    /// <summary>
    /// Packs new float32 values of the same shape into this matrix's own storage, with no allocation: a training step
    /// updates its weights in place and refreshes their packed copies so (the same layout <see cref="Pack(ReadOnlySpan{float}, int, int, bool, Dtype)"/>
    /// gives, bit for bit). Only float32 storage: a 16-bit matrix would round.
    /// </summary>
    /// <param name="b">[k, n], or [n, k] when <paramref name="transposed"/>.</param>
    /// <param name="transposed"><paramref name="b"/> is stored as [n, k].</param>
    /// <exception cref="InvalidOperationException">the matrix is not stored as float32, or was packed for another kernel.</exception>
    internal void Repack(ReadOnlySpan<float> b, bool transposed = false)
    {
        CheckSize(b.Length, K, N);
        if (_storage is not float[] panels || Isa != GemmIsaSelector.Current)
            throw new InvalidOperationException($"only a float32 matrix packed for the current kernel can be repacked in place (this one: {Dtype}, {Isa})");
        unsafe
        {
            fixed (float* src = b, dst = panels)
                if (panels.Length > 0) GemmPacking.PackB(src, K, N, transposed, 0, K, 0, N, Nr, dst);
        }
    }

    /// <summary>
    /// Writes B[row0 .. row0+rows, col0 .. col0+cols) as float32 into <paramref name="destination"/> ([rows, cols],
    /// row-major): how an analysis materialises one named weight (a head's W_Q columns, a token's W_U column) from the
    /// packed copy.
    /// </summary>
    public void CopyTo(int row0, int rows, int col0, int cols, Span<float> destination)
    {
        if (row0 < 0 || rows < 0 || (long)row0 + rows > K || col0 < 0 || cols < 0 || (long)col0 + cols > N)
            throw new ArgumentOutOfRangeException(nameof(rows), $"block rows [{row0}, {(long)row0 + rows}) x cols [{col0}, {(long)col0 + cols}) is outside the {K} x {N} matrix");
        KernelChecks.DestinationLongEnough(checked(rows * cols), destination.Length, nameof(destination));
        for (int c = 0; c < cols; c++)
        {
            int col = col0 + c, within = col % Nr;
            long start = (long)(col / Nr) * K * Nr + (long)row0 * Nr + ElementOffset(within);
            if (_storage is float[] f)
                for (int r = 0; r < rows; r++) destination[r * cols + c] = f[start + (long)r * Nr];
            else
            {
                var h = (ushort[])_storage;
                for (int r = 0; r < rows; r++) destination[r * cols + c] = HalfBits.ToSingle(h[start + (long)r * Nr], Dtype);
            }
        }
    }

    /// <summary>The whole matrix as float32, [k, n] row-major.</summary>
    public float[] ToArray()
    {
        var dense = new float[(long)K * N];
        CopyTo(0, K, 0, N, dense);
        return dense;
    }

    /// <summary>Where column <paramref name="within"/> of a panel sits in a panel row.</summary>
    private int ElementOffset(int within) =>
        Dtype == Dtype.F32 ? within : within < Nr / 2 ? 2 * within : 2 * (within - Nr / 2) + 1;

    private static void CheckSize(int length, int k, int n)
    {
        if (k < 0 || n < 0) throw new ArgumentException($"negative packed matrix size k={k} n={n}");
        if (length < (long)k * n) throw new ArgumentException($"B has {length} elements, needs k*n = {(long)k * n}");
    }

    // Packed weights live as long as their model: pinned heap, like Tensor.ZerosLongLived.
    private static T[] Allocate<T>(int k, int n, int nr) where T : unmanaged =>
        GC.AllocateUninitializedArray<T>(checked((int)((long)(n + nr - 1) / nr * nr * k)), pinned: true);

    /// <summary>Every value rounds to a finite float16 (|x| &lt; 65520, no NaN).</summary>
    private static bool FitsFloat16(ReadOnlySpan<float> values) =>
        values.IsEmpty || TensorPrimitives.MaxMagnitude(values) is var max && !float.IsNaN(max) && MathF.Abs(max) < 65520f;

    private static bool HasNonFiniteF16(ReadOnlySpan<ushort> bits)
    {
        var exponent = new Vector<ushort>(0x7C00);
        int i = 0;
        for (; i <= bits.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            if (Vector.EqualsAny(new Vector<ushort>(bits[i..]) & exponent, exponent)) return true;
        for (; i < bits.Length; i++) if (HalfBits.IsF16NonFinite(bits[i])) return true;
        return false;
    }
}
