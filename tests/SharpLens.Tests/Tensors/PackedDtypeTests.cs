using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>
/// bfloat16 and float16 packed weights: every kernel family the CPU runs against <see cref="GemmReference"/> on the
/// rounded values (the kernels widen exactly, so only float32 summation order separates them), at every row, column
/// and depth tail; every 16-bit bit pattern widened exactly; read-back, memory and argument checks.
/// Shares <see cref="GemmTests"/>' collection because the ISA knob is global.
/// </summary>
[Collection(nameof(GemmTests))]
public class PackedDtypeTests
{
    public static TheoryData<int, int> IsasAndTypes()
    {
        var data = new TheoryData<int, int>();
        foreach (var isa in new[] { GemmIsa.Auto, GemmIsa.Scalar, GemmIsa.Vector128, GemmIsa.Avx2, GemmIsa.Avx512 })
            if (GemmIsaSelector.IsSupported(isa))
                foreach (var dtype in new[] { Dtype.BF16, Dtype.F16 })
                    data.Add((int)isa, (int)dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(IsasAndTypes))]
    public void MatchesReference_EveryTailLength(int isa, int dtype)
    {
        using var _ = GemmKnob.Force((GemmIsa)isa);
        var type = (Dtype)dtype;
        // m 1..17 crosses every MR (4, 6, 8) tail twice; n 1..65 every NR (4, 8, 16, 32) tail; k 257 a depth block tail.
        foreach (int k in new[] { 1, 5, 257 })
            for (int m = 1; m <= 17; m += k == 257 ? 4 : 1)
                for (int n = 1; n <= 65; n += k == 257 ? 7 : 1)
                    Check(m, k, n, type, transposed: (m + n) % 2 == 0, accumulate: n % 3 == 0);
    }

    [Theory]
    [MemberData(nameof(IsasAndTypes))]
    public void MatchesReference_BlockedAndThreadedShapes(int isa, int dtype)
    {
        using var _ = GemmKnob.Force((GemmIsa)isa);
        // Big enough for the column split, the panel-major order and several depth blocks.
        foreach (var (m, k, n) in new[] { (64, 768, 300), (1, 600, 1000), (8, 300, 2050), (300, 260, 40), (61, 513, 999) })
            foreach (bool tb in new[] { false, true })
                Check(m, k, n, (Dtype)dtype, tb, accumulate: tb);
    }

    [Theory]
    [MemberData(nameof(IsasAndTypes))]
    public void FromRawBits_EqualsFromRoundedFloats(int isa, int dtype)
    {
        using var _ = GemmKnob.Force((GemmIsa)isa);
        var type = (Dtype)dtype;
        int m = 9, k = 70, n = 45;
        var rng = new Random(11);
        var values = GemmKnob.Random(rng, k * n);
        var bits = values.Select(v => HalfBits.FromSingle(v, type)).ToArray();
        var a = GemmKnob.Random(rng, m * k);
        foreach (bool tb in new[] { false, true })
        {
            var fromFloats = new float[m * n];
            var fromBits = new float[m * n];
            Gemm.Multiply(a, PackedMatrix.Pack(values, k, n, tb, type), fromFloats, m);
            var packed = PackedMatrix.Pack(bits, type, k, n, tb);
            Assert.Equal(type, packed.Dtype);
            Gemm.Multiply(a, packed, fromBits, m);
            Assert.Equal(fromFloats, fromBits);
        }
    }

    [Theory]
    [MemberData(nameof(IsasAndTypes))]
    public void WithinRoundingOfTheFloat32Path(int isa, int dtype)
    {
        using var _ = GemmKnob.Force((GemmIsa)isa);
        var type = (Dtype)dtype;
        int m = 8, k = 512, n = 200;
        var rng = new Random(3);
        var a = GemmKnob.Random(rng, m * k);
        var b = GemmKnob.Random(rng, k * n);
        var exact = new float[m * n];
        Gemm.Multiply(a, PackedMatrix.Pack(b, k, n), exact, m);
        var rounded = new float[m * n];
        Gemm.Multiply(a, PackedMatrix.Pack(b, k, n, storage: type), rounded, m);
        // Each weight moves by at most half an ulp (2^-8 relative for bf16, 2^-11 for f16): the sum moves by at
        // most that share of sum |a·b|.
        float unit = type == Dtype.BF16 ? 1f / 256 : 1f / 2048;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double bound = 0;
                for (int p = 0; p < k; p++) bound += Math.Abs(a[i * k + p] * b[p * n + j]);
                float tol = (float)(bound * unit) + 1e-4f;
                Assert.True(Math.Abs(exact[i * n + j] - rounded[i * n + j]) <= tol,
                    $"[{i},{j}] float32 {exact[i * n + j]} vs {type} {rounded[i * n + j]} (tol {tol})");
            }
    }

    [Theory]
    [MemberData(nameof(IsasAndTypes))]
    public void EveryBitPattern_WidensExactly(int isa, int dtype)
    {
        using var _ = GemmKnob.Force((GemmIsa)isa);
        var type = (Dtype)dtype;
        // B [1, n]: every 16-bit pattern (float16: every finite one) times A = 1 gives the widened value itself.
        var bits = Enumerable.Range(0, 65536).Select(i => (ushort)i)
            .Where(h => type == Dtype.BF16 || !HalfBits.IsF16NonFinite(h)).ToArray();
        var packed = PackedMatrix.Pack(bits, type, 1, bits.Length);
        Assert.Equal(type, packed.Dtype);
        var c = new float[bits.Length];
        Gemm.Multiply([1f], packed, c, 1);
        var readBack = packed.ToArray();
        for (int i = 0; i < bits.Length; i++)
        {
            float expected = type == Dtype.BF16 ? BitConverter.UInt32BitsToSingle((uint)bits[i] << 16) : (float)BitConverter.UInt16BitsToHalf(bits[i]);
            if (float.IsNaN(expected))
            {
                Assert.True(float.IsNaN(c[i]) && float.IsNaN(readBack[i]), $"bits 0x{bits[i]:X4}: NaN expected");
                continue;
            }
            // The kernel adds products to +0, so -0 comes out as +0; == treats them alike.
            if (c[i] != expected || readBack[i] != expected)
                Assert.Fail($"{type} bits 0x{bits[i]:X4}: expected {expected}, kernel {c[i]}, read back {readBack[i]}");
        }
    }

    [Theory]
    [InlineData((int)Dtype.BF16)]
    [InlineData((int)Dtype.F16)]
    public void SpanWidening_EqualsTheScalarOneForEveryBitPattern(int dtype)
    {
        // The checkpoint reader's whole-tensor conversion (SafetensorsFile) and the one-value conversion agree bit for bit.
        var type = (Dtype)dtype;
        var bits = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var widened = new float[bits.Length];
        HalfBits.ToSingle(bits, widened, type);
        for (int i = 0; i < bits.Length; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(HalfBits.ToSingle(bits[i], type)), BitConverter.SingleToUInt32Bits(widened[i]));
    }

    [Fact]
    public void Float16WithInfinityOrNaN_IsKeptAsFloat32()
    {
        var bits = new ushort[] { 0x3C00, 0x7C00, 0x4000, 0x4400 }; // [[1, +inf], [2, 4]]
        var packed = PackedMatrix.Pack(bits, Dtype.F16, 2, 2);
        Assert.Equal(Dtype.F32, packed.Dtype);
        var c = new float[2];
        Gemm.Multiply([1f, 1f], packed, c, 1);
        Assert.Equal(3f, c[0]);
        Assert.True(float.IsPositiveInfinity(c[1]));
        Assert.Equal(Dtype.F32, PackedMatrix.Pack(new ushort[] { 0x3C00, 0xFE00 }, Dtype.F16, 1, 2).Dtype); // NaN
        // float32 values past float16's range would round to infinity: the matrix stays float32 too.
        Assert.Equal(Dtype.F32, PackedMatrix.Pack([1f, 70000f], 1, 2, storage: Dtype.F16).Dtype);
        Assert.Equal(Dtype.F32, PackedMatrix.Pack([1f, float.NaN], 1, 2, storage: Dtype.F16).Dtype);
        Assert.Equal(Dtype.F16, PackedMatrix.Pack([1f, 65504f], 1, 2, storage: Dtype.F16).Dtype);
    }

    [Theory]
    [InlineData((int)Dtype.F32)]
    [InlineData((int)Dtype.BF16)]
    [InlineData((int)Dtype.F16)]
    public void CopyTo_ReadsAnyBlockBack(int dtype)
    {
        var type = (Dtype)dtype;
        int k = 37, n = 71;
        var b = GemmKnob.Random(new Random(4), k * n);
        var stored = type == Dtype.F32 ? b : b.Select(v => HalfBits.ToSingle(HalfBits.FromSingle(v, type), type)).ToArray();
        foreach (bool transposed in new[] { false, true })
        {
            // Transposed input [n, k] holds the same matrix B [k, n].
            var input = transposed ? Transpose(b, k, n) : b;
            var packed = PackedMatrix.Pack(input, k, n, transposed, type);
            Assert.Equal(stored, packed.ToArray());
            var block = new float[5 * 40];
            packed.CopyTo(30, 5, 31, 40, block);
            for (int r = 0; r < 5; r++)
                for (int c = 0; c < 40; c++)
                    Assert.Equal(stored[(30 + r) * n + 31 + c], block[r * 40 + c]);
        }
    }

    [Fact]
    public void SixteenBitStorage_TakesTwoBytesPerElement()
    {
        int k = 256, n = 1024; // a whole number of panels for every kernel width
        var b = new float[k * n];
        Assert.Equal(4L * k * n, PackedMatrix.Pack(b, k, n).StorageBytes);
        Assert.Equal(2L * k * n, PackedMatrix.Pack(b, k, n, storage: Dtype.BF16).StorageBytes);
        Assert.Equal(2L * k * n, PackedMatrix.Pack(new ushort[k * n], Dtype.F16, k, n).StorageBytes);
    }

    [Fact]
    public void WidenedToFloat32_MatchesTheSixteenBitMatrix()
    {
        int k = 40, n = 33;
        var rng = new Random(8);
        var bits = GemmKnob.Random(rng, k * n).Select(v => HalfBits.FromSingle(v, Dtype.BF16)).ToArray();
        foreach (bool transposed in new[] { false, true })
        {
            var widened = PackedMatrix.Pack(bits, Dtype.BF16, k, n, transposed, storage: Dtype.F32);
            Assert.Equal(Dtype.F32, widened.Dtype);
            Assert.Equal(PackedMatrix.Pack(bits, Dtype.BF16, k, n, transposed).ToArray(), widened.ToArray());
        }
    }

    [Fact]
    public void BadArguments_Throw()
    {
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new ushort[4], Dtype.F32, 2, 2));
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new ushort[4], Dtype.BF16, 2, 2, storage: Dtype.F16));
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new ushort[3], Dtype.BF16, 2, 2));
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new ushort[4], Dtype.BF16, -1, 2));
        var packed = PackedMatrix.Pack(new ushort[6], Dtype.BF16, 2, 3);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[3], packed, new float[6], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => packed.CopyTo(1, 2, 0, 3, new float[6]));
        Assert.Throws<ArgumentOutOfRangeException>(() => packed.CopyTo(0, 2, 2, 2, new float[4]));
        Assert.Throws<ArgumentException>(() => packed.CopyTo(0, 2, 0, 3, new float[5]));
    }

    private static void Check(int m, int k, int n, Dtype type, bool transposed, bool accumulate)
    {
        var rng = new Random(m * 1000003 + k * 1009 + n * 17 + (int)type);
        var a = GemmKnob.Random(rng, m * k);
        var b = GemmKnob.Random(rng, k * n);
        // The reference multiplies the values the 16-bit matrix actually holds.
        var stored = b.Select(v => HalfBits.ToSingle(HalfBits.FromSingle(v, type), type)).ToArray();
        var c0 = GemmKnob.Random(rng, m * n);
        var expected = (float[])c0.Clone();
        GemmReference.Multiply(a, stored, expected, m, k, n, false, false, accumulate);
        var input = transposed ? Transpose(b, k, n) : b;
        var actual = (float[])c0.Clone();
        Gemm.Multiply(a, PackedMatrix.Pack(input, k, n, transposed, type), actual, m, accumulate);
        GemmKnob.AssertClose(expected, actual, k, $"{type} {m}x{k}x{n} tb={transposed} acc={accumulate}");
    }

    /// <summary>[k, n] -> [n, k].</summary>
    private static float[] Transpose(float[] b, int k, int n)
    {
        var t = new float[b.Length];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++)
                t[j * k + p] = b[p * n + j];
        return t;
    }
}
