using System.Runtime.CompilerServices;

namespace SharpLens.Tensors;

/// <summary>Where 16-bit packing reads element i of the source matrix from (inlined into the packing loop).</summary>
internal interface IBits16Source
{
    /// <summary>Element <paramref name="index"/> of the flat source, as 16-bit bits of the storage type.</summary>
    ushort Get(nint index);
}

/// <summary>Raw 16-bit bits already in the storage type (a checkpoint's BF16 or F16 tensor).</summary>
internal readonly unsafe struct Bits16Source(ushort* bits) : IBits16Source
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Get(nint index) => bits[index];
}

/// <summary>float32 values rounded to the 16-bit storage type as they are packed.</summary>
internal readonly unsafe struct SingleSource(float* values, Dtype target) : IBits16Source
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Get(nint index) => HalfBits.FromSingle(values[index], target);
}

/// <summary>
/// Packing of whole matrices for <see cref="PackedMatrix"/> from 16-bit sources: panel by panel on both cores, reading
/// the source in place (no float32 copy of the matrix). Packing is a load-time cost, paid once per weight.
/// </summary>
internal static unsafe partial class GemmPacking
{
    /// <summary>
    /// B [k, n] (or [n, k] when <paramref name="transposed"/>) into ceil(n/nr) panels of k paired rows
    /// (<see cref="IPanelRow"/>): dst[j*k*nr + p*nr + 2i] = B[p, j*nr + i], dst[... + 2i + 1] = B[p, j*nr + nr/2 + i].
    /// </summary>
    public static void PackPaired16<TSource>(TSource source, int k, int n, bool transposed, int nr, ushort* dst)
        where TSource : struct, IBits16Source
    {
        nint dstAddress = (nint)dst;
        ParallelRows.For((n + nr - 1) / nr, (long)k * n, (j0, j1) =>
        {
            for (int j = j0; j < j1; j++) PairedPanel(source, k, n, transposed, nr, j, (ushort*)dstAddress + (nint)j * k * nr);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PairedPanel<TSource>(TSource source, int k, int n, bool transposed, int nr, int panel, ushort* dst)
        where TSource : struct, IBits16Source
    {
        int half = nr / 2, c0 = panel * nr;
        nint colStride = transposed ? k : 1, rowStride = transposed ? 1 : n;
        for (int p = 0; p < k; p++, dst += nr)
            for (int i = 0; i < half; i++)
            {
                int lo = c0 + i, hi = c0 + half + i;
                dst[2 * i] = lo < n ? source.Get(p * rowStride + lo * colStride) : (ushort)0;
                dst[2 * i + 1] = hi < n ? source.Get(p * rowStride + hi * colStride) : (ushort)0;
            }
    }

    /// <summary>16-bit bits of <paramref name="sourceType"/> widened into float32 panels (the layout of <see cref="PackB"/>).</summary>
    public static void PackWidened(ushort* bits, Dtype sourceType, int k, int n, bool transposed, int nr, float* dst)
    {
        nint srcAddress = (nint)bits, dstAddress = (nint)dst;
        ParallelRows.For((n + nr - 1) / nr, (long)k * n, (j0, j1) =>
        {
            nint colStride = transposed ? k : 1, rowStride = transposed ? 1 : n;
            var src = (ushort*)srcAddress;
            for (int j = j0; j < j1; j++)
            {
                float* row = (float*)dstAddress + (nint)j * k * nr;
                for (int p = 0; p < k; p++, row += nr)
                    for (int c = 0; c < nr; c++)
                    {
                        int col = j * nr + c;
                        row[c] = col < n ? HalfBits.ToSingle(src[p * rowStride + col * colStride], sourceType) : 0f;
                    }
            }
        });
    }
}
