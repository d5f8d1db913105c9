using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>
/// Every fast path against <see cref="GemmReference"/>. The ISA knob is global, so these tests live in
/// one collection that xunit never runs in parallel with itself.
/// </summary>
[Collection(nameof(GemmTests))]
public class GemmTests
{
    public static TheoryData<int> Isas()
    {
        // Auto (0) takes the unpacked small-product path on tiny shapes; forced ISAs always use their kernel.
        var data = new TheoryData<int> { (int)GemmIsa.Auto };
        foreach (var isa in new[] { GemmIsa.Scalar, GemmIsa.Vector128, GemmIsa.Avx2, GemmIsa.Avx512 })
            if (GemmIsaSelector.IsSupported(isa)) data.Add((int)isa);
        return data;
    }

    // Awkward sizes around every tile width (1, 7, 65) plus a long 3071 only with small partners,
    // and one shape big enough to cross the K/M/N blocking and threading thresholds.
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (1, 7, 65), (7, 65, 1), (65, 1, 7), (7, 7, 7), (65, 65, 65), (8, 64, 8),
        (3071, 7, 1), (1, 3071, 7), (7, 1, 3071), (3071, 1, 7), (65, 3071, 1),
        (17, 260, 801), (40, 300, 900), (300, 260, 40), (64, 768, 96),
    ];

    [Theory]
    [MemberData(nameof(Isas))]
    public void MatchesReference_AllShapesAndTransposes(int isa)
    {
        using var _ = Force((GemmIsa)isa);
        foreach (var (m, k, n) in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (bool acc in new[] { false, true })
                        Check(m, k, n, ta, tb, acc);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void PackedMatchesReference(int isa)
    {
        using var _ = Force((GemmIsa)isa);
        foreach (var (m, k, n) in Shapes)
            foreach (bool tb in new[] { false, true })
                foreach (bool acc in new[] { false, true })
                {
                    var rng = new Random(m * 31 + k * 7 + n);
                    var a = Random(rng, m * k);
                    var b = Random(rng, k * n);
                    var c0 = Random(rng, m * n);
                    var expected = (float[])c0.Clone();
                    GemmReference.Multiply(a, b, expected, m, k, n, false, tb, acc);

                    var packed = PackedMatrix.Pack(b, k, n, tb);
                    Assert.Equal(k, packed.K);
                    Assert.Equal(n, packed.N);
                    var actual = (float[])c0.Clone();
                    Gemm.Multiply(a, packed, actual, m, acc);
                    AssertClose(expected, actual, k, $"packed {m}x{k}x{n} tb={tb} acc={acc}");

                    // Packed and unpacked must agree with each other too.
                    var unpacked = (float[])c0.Clone();
                    Gemm.Multiply(a, b, unpacked, m, k, n, false, tb, acc);
                    AssertClose(unpacked, actual, k, $"packed vs unpacked {m}x{k}x{n}");
                }
    }

    [Fact]
    public void PackedMatrix_KeepsLayoutOfItsIsa_WhenKnobChanges()
    {
        int m = 9, k = 33, n = 70;
        var rng = new Random(5);
        var a = Random(rng, m * k); var b = Random(rng, k * n);
        PackedMatrix packed;
        using (Force(GemmIsa.Scalar)) packed = PackedMatrix.Pack(b, k, n);
        var expected = new float[m * n];
        GemmReference.Multiply(a, b, expected, m, k, n, false, false, false);
        var actual = new float[m * n];
        Gemm.Multiply(a, packed, actual, m);
        AssertClose(expected, actual, k, "scalar-packed used under the default ISA");
    }

    // Covers both the fused panel-major path (parallel column split, e.g. the unembedding shape scaled down)
    // and the fallback that adds the bias after the GEMM (too small to split, or ragged edges).
    [Theory]
    [InlineData(64, 300, 1000)]
    [InlineData(61, 257, 999)]
    [InlineData(3, 5, 7)]
    public void MultiplyAddBias_MatchesMultiplyThenBias(int m, int k, int n)
    {
        var rng = new Random(m + k + n);
        var a = Random(rng, m * k); var b = Random(rng, k * n); var bias = Random(rng, n);
        var expected = new float[m * n];
        GemmReference.Multiply(a, b, expected, m, k, n, false, false, false);
        Kernels.AddBiasRows(expected, bias);
        var actual = new float[m * n];
        Gemm.MultiplyAddBias(a, PackedMatrix.Pack(b, k, n), bias, actual, m);
        AssertClose(expected, actual, k, "bias fused into the packed GEMM");
    }

    // Panel-major row blocks: a small A budget splits m into several blocks (the last one ragged), each packed and
    // swept over every column panel; with and without the fused bias, accumulating or not.
    [Theory]
    [MemberData(nameof(Isas))]
    public void PanelMajorRowBlocks_MatchReference(int isa)
    {
        using var _ = Force((GemmIsa)isa);
        int previous = GemmDriver.PanelMajorABytes;
        GemmDriver.PanelMajorABytes = 64 << 10;
        try
        {
            foreach (var (m, k, n) in new[] { (300, 260, 2000), (129, 700, 1100) })
            {
                var rng = new Random(m + k + n);
                var a = Random(rng, m * k); var b = Random(rng, k * n); var bias = Random(rng, n);
                var c0 = Random(rng, m * n);
                var packed = PackedMatrix.Pack(b, k, n);
                foreach (bool acc in new[] { false, true })
                {
                    var expected = (float[])c0.Clone();
                    GemmReference.Multiply(a, b, expected, m, k, n, false, false, acc);
                    var actual = (float[])c0.Clone();
                    Gemm.Multiply(a, packed, actual, m, acc);
                    AssertClose(expected, actual, k, $"row blocks {m}x{k}x{n} acc={acc}");
                }
                var withBias = new float[m * n];
                GemmReference.Multiply(a, b, withBias, m, k, n, false, false, false);
                Kernels.AddBiasRows(withBias, bias);
                var fused = new float[m * n];
                Gemm.MultiplyAddBias(a, packed, bias, fused, m);
                AssertClose(withBias, fused, k, $"row blocks with bias {m}x{k}x{n}");
            }
        }
        finally
        {
            GemmDriver.PanelMajorABytes = previous;
        }
    }

    [Fact]
    public void ZeroDepth_ClearsOrKeepsC()
    {
        var c = new[] { 1f, 2f, 3f, 4f };
        Gemm.Multiply([], [], c, 2, 0, 2, accumulate: true);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, c);
        Gemm.Multiply([], [], c, 2, 0, 2);
        Assert.Equal(new float[4], c);
        Gemm.Multiply([], [], Span<float>.Empty, 0, 5, 0);
    }

    [Fact]
    public void LongerSpansThanNeeded_LeaveTheRestAlone()
    {
        var a = Random(new Random(1), 7 * 5 + 3);
        var b = Random(new Random(2), 5 * 6 + 3);
        var c = Enumerable.Repeat(42f, 7 * 6 + 4).ToArray();
        Gemm.Multiply(a, b, c, 7, 5, 6);
        var expected = new float[7 * 6];
        GemmReference.Multiply(a, b, expected, 7, 5, 6, false, false, false);
        AssertClose(expected, c[..42], 5, "prefix");
        Assert.All(c[42..], x => Assert.Equal(42f, x));
    }

    [Fact]
    public void ConcurrentCallers_GetCorrectResults()
    {
        int m = 64, k = 256, n = 512; // column split: shared packed A + claimed chunks
        var rng = new Random(3);
        var a = Random(rng, m * k); var b = Random(rng, k * n);
        var expected = new float[m * n];
        GemmReference.Multiply(a, b, expected, m, k, n, false, false, false);
        var packed = PackedMatrix.Pack(b, k, n);
        Parallel.For(0, 8, i =>
        {
            var c = new float[m * n];
            if (i % 2 == 0) Gemm.Multiply(a, b, c, m, k, n); else Gemm.Multiply(a, packed, c, m);
            AssertClose(expected, c, k, $"caller {i}");
        });
    }

    [Theory]
    [InlineData(5, 4, 4, 4, 4, 4)] // A short
    [InlineData(16, 3, 4, 4, 4, 4)] // B short
    [InlineData(16, 16, 3, 4, 4, 4)] // C short
    [InlineData(16, 16, 16, -1, 4, 4)] // negative size
    public void ShortSpans_Throw(int aLen, int bLen, int cLen, int m, int k, int n)
    {
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[aLen], new float[bLen], new float[cLen], m, k, n));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[aLen], new float[bLen], new float[cLen], m, k, n, true, true, true));
    }

    [Fact]
    public void Packed_ShortSpans_Throw()
    {
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new float[11], 3, 4));
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new float[11], 4, 3, transposed: true));
        var packed = PackedMatrix.Pack(new float[12], 3, 4);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[5], packed, new float[8], 2));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[6], packed, new float[7], 2));
        Assert.Throws<ArgumentNullException>(() => Gemm.Multiply(new float[6], null!, new float[8], 2));
    }

    [Fact]
    public void FmaPeak_IsPositive()
    {
        Assert.True(FmaPeak.MeasureGflops(TimeSpan.FromMilliseconds(20)) > 0);
    }

    [Fact]
    public void MemoryReadBandwidth_IsPositive()
    {
        Assert.True(MemoryBandwidth.MeasureReadGBps(TimeSpan.FromMilliseconds(20), 8L << 20) > 0);
    }

    private static void Check(int m, int k, int n, bool ta, bool tb, bool acc)
    {
        var rng = new Random(m * 1000003 + k * 1009 + n * 17 + (ta ? 1 : 0) + (tb ? 2 : 0));
        var a = Random(rng, m * k);
        var b = Random(rng, k * n);
        var c0 = Random(rng, m * n);
        var expected = (float[])c0.Clone();
        GemmReference.Multiply(a, b, expected, m, k, n, ta, tb, acc);
        var actual = (float[])c0.Clone();
        Gemm.Multiply(a, b, actual, m, k, n, ta, tb, acc);
        AssertClose(expected, actual, k, $"{m}x{k}x{n} ta={ta} tb={tb} acc={acc}");
    }

    private static void AssertClose(float[] expected, float[] actual, int k, string what) => GemmKnob.AssertClose(expected, actual, k, what);

    private static float[] Random(Random rng, int count) => GemmKnob.Random(rng, count);

    private static IDisposable Force(GemmIsa isa) => GemmKnob.Force(isa);
}
