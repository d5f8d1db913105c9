using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>
/// The register-blocked attention products against their scalar twin (bit-identical at every vector width, since each
/// entry is the same chain of fused multiply-adds) and against a naive double-precision computation, over head sizes
/// that exercise the 16-, 8-lane and scalar column paths and row counts that leave partial row blocks and key tiles.
/// </summary>
public class CausalAttentionKernelTests
{
    public static TheoryData<int> Widths() => new(VectorWidthSelector.Supported.Select(w => (int)w));

    private static float[] Random(Random random, int length) =>
        Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    [Theory, MemberData(nameof(Widths))]
    public void ScoresAndMixingEqualTheScalarTwinAndANaiveComputation(int width)
    {
        var random = new Random(5);
        foreach (int dHead in new[] { 1, 7, 8, 16, 24, 64 })
            foreach (var (rows, past) in new[] { (1, 0), (1, 13), (5, 0), (9, 3), (17, 0), (33, 7) })
            {
                int heads = 3, stride = heads * dHead, keys = past + rows, head = 1;
                float[] q = Random(random, rows * stride), k = Random(random, keys * stride), v = Random(random, keys * stride);
                float scale = 1f / MathF.Sqrt(dHead);
                var scores = new float[rows * keys];
                var twin = new float[rows * keys];
                CausalAttentionKernels.CausalScores(q.AsSpan(head * dHead), stride, rows, k.AsSpan(head * dHead), stride, dHead, past, keys, scale, scores, (VectorWidth)width);
                CausalAttentionKernels.CausalScores(q.AsSpan(head * dHead), stride, rows, k.AsSpan(head * dHead), stride, dHead, past, keys, scale, twin, VectorWidth.Scalar);
                Assert.Equal(twin, scores);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < keys; j++)
                    {
                        if (j > past + i) { Assert.Equal(float.NegativeInfinity, scores[i * keys + j]); continue; }
                        double dot = 0;
                        for (int d = 0; d < dHead; d++) dot += (double)q[i * stride + head * dHead + d] * k[j * stride + head * dHead + d];
                        Assert.True(Math.Abs(dot * scale - scores[i * keys + j]) <= 1e-5 * dHead, $"score {i},{j} d_head {dHead}");
                    }

                Kernels.SoftmaxRows(scores, keys);
                var z = Enumerable.Repeat(float.NaN, rows * stride).ToArray();   // every written entry is overwritten
                var zTwin = (float[])z.Clone();
                CausalAttentionKernels.Mix(scores, keys, rows, v.AsSpan(head * dHead), stride, dHead, past, false, z.AsSpan(head * dHead), stride, (VectorWidth)width);
                CausalAttentionKernels.Mix(scores, keys, rows, v.AsSpan(head * dHead), stride, dHead, past, false, zTwin.AsSpan(head * dHead), stride, VectorWidth.Scalar);
                Assert.Equal(zTwin, z);
                for (int i = 0; i < rows; i++)
                    for (int c = 0; c < dHead; c++)
                    {
                        double expected = 0;
                        for (int j = 0; j <= past + i; j++) expected += (double)scores[i * keys + j] * v[j * stride + head * dHead + c];
                        Assert.True(Math.Abs(expected - z[i * stride + head * dHead + c]) <= 1e-5, $"z {i},{c} d_head {dHead}");
                        Assert.True(float.IsNaN(z[i * stride + c]), "another head's columns were written");
                    }
            }
    }

    [Fact]
    public void ARowComputedAloneEqualsTheSameRowOfTheFullBlock()
    {
        var random = new Random(9);
        int dHead = 64, rows = 21, keys = rows, stride = dHead;
        float[] q = Random(random, rows * stride), k = Random(random, keys * stride), v = Random(random, keys * stride);
        var scores = new float[rows * keys];
        CausalAttentionKernels.CausalScores(q, stride, rows, k, stride, dHead, 0, keys, 0.125f, scores, VectorWidthSelector.Best);
        Kernels.SoftmaxRows(scores, keys);
        var z = new float[rows * stride];
        CausalAttentionKernels.Mix(scores, keys, rows, v, stride, dHead, 0, false, z, stride, VectorWidthSelector.Best);
        foreach (int row in new[] { 0, 6, 13, 20 })
        {
            var alone = new float[keys];
            CausalAttentionKernels.CausalScores(q.AsSpan(row * stride), stride, 1, k, stride, dHead, row, keys, 0.125f, alone, VectorWidthSelector.Best);
            Kernels.SoftmaxRows(alone, keys);
            Assert.Equal(scores.AsSpan(row * keys, keys).ToArray(), alone);
            var zAlone = new float[dHead];
            CausalAttentionKernels.Mix(alone, keys, 1, v, stride, dHead, row, false, zAlone, stride, VectorWidthSelector.Best);
            Assert.Equal(z.AsSpan(row * stride, dHead).ToArray(), zAlone);
        }
    }

    [Fact]
    public void MixingEveryKeyIncludesWeightPastTheCausalPrefix()
    {
        int dHead = 8, rows = 3, keys = 3;
        var pattern = new float[] { 0, 0, 1, 0, 0, 1, 0, 0, 1 };   // every row looks only at the last key (a hooked pattern)
        var v = Enumerable.Range(0, keys * dHead).Select(i => (float)(i / dHead + 1)).ToArray();
        var z = new float[rows * dHead];
        CausalAttentionKernels.Mix(pattern, keys, rows, v, dHead, dHead, 0, true, z, dHead, VectorWidthSelector.Best);
        Assert.All(z, value => Assert.Equal(3f, value));
    }

    // Sliding windows (0 = none) and key/value strides unlike the queries' (grouped-query attention reads a shared
    // key/value head): the fused kernel equals scores, visible softmax and mixing in turn, bit for bit, at every width,
    // and all of them equal a naive double-precision attention over each row's visible keys.
    [Theory, MemberData(nameof(Widths))]
    public void FusedAttentionEqualsTheThreeStepsAndANaiveAttention(int width)
    {
        var random = new Random(17);
        foreach (int dHead in new[] { 1, 8, 24, 64 })
            foreach (var (rows, past, window) in new[] { (1, 0, 0), (9, 3, 0), (17, 0, 5), (33, 7, 16), (20, 40, 8), (3, 0, 1) })
            {
                int qStride = 4 * dHead, kvStride = 2 * dHead, keys = past + rows;
                float[] q = Random(random, rows * qStride), k = Random(random, keys * kvStride), v = Random(random, keys * kvStride);
                float scale = 1f / MathF.Sqrt(dHead);
                var w = (VectorWidth)width;
                var scores = new float[rows * keys];
                CausalAttentionKernels.CausalScores(q.AsSpan(dHead), qStride, rows, k.AsSpan(dHead), kvStride, dHead, past, keys, scale, scores, w, window);
                var twin = new float[rows * keys];
                CausalAttentionKernels.CausalScores(q.AsSpan(dHead), qStride, rows, k.AsSpan(dHead), kvStride, dHead, past, keys, scale, twin, VectorWidth.Scalar, window);
                Assert.Equal(twin, scores);
                CausalAttentionKernels.CausalSoftmax(scores, keys, rows, past, window);
                var stepwise = Enumerable.Repeat(float.NaN, rows * qStride).ToArray();
                CausalAttentionKernels.Mix(scores, keys, rows, v.AsSpan(dHead), kvStride, dHead, past, false, stepwise.AsSpan(dHead), qStride, w, window);
                var fused = Enumerable.Repeat(float.NaN, rows * qStride).ToArray();
                CausalAttentionKernels.Attend(q.AsSpan(dHead), qStride, rows, k.AsSpan(dHead), kvStride, v.AsSpan(dHead), kvStride, dHead, past, window, scale, fused.AsSpan(dHead), qStride, w);
                Assert.Equal(stepwise, fused);

                for (int i = 0; i < rows; i++)
                {
                    int lo = window > 0 ? Math.Max(0, past + i + 1 - window) : 0, hi = past + i;
                    var exact = new double[keys];
                    double max = double.NegativeInfinity, sum = 0;
                    for (int j = lo; j <= hi; j++)
                    {
                        for (int d = 0; d < dHead; d++) exact[j] += (double)q[i * qStride + dHead + d] * k[j * kvStride + dHead + d];
                        exact[j] *= scale;
                        max = Math.Max(max, exact[j]);
                    }
                    for (int j = lo; j <= hi; j++) sum += Math.Exp(exact[j] - max);
                    for (int j = 0; j < keys; j++)
                    {
                        double p = j < lo || j > hi ? 0 : Math.Exp(exact[j] - max) / sum;
                        Assert.True(Math.Abs(p - scores[i * keys + j]) <= 1e-5, $"pattern {i},{j} d_head {dHead} window {window}");
                    }
                    for (int c = 0; c < dHead; c++)
                    {
                        double z = 0;
                        for (int j = lo; j <= hi; j++) z += Math.Exp(exact[j] - max) / sum * v[j * kvStride + dHead + c];
                        Assert.True(Math.Abs(z - fused[i * qStride + dHead + c]) <= 1e-5, $"z {i},{c} d_head {dHead} window {window}");
                        Assert.True(float.IsNaN(fused[i * qStride + c]) && float.IsNaN(fused[i * qStride + 2 * dHead + c]), "another head's columns were written");
                    }
                }
            }
    }

    [Fact]
    public void WindowedScoresMaskBothSides()
    {
        var random = new Random(2);
        int dHead = 8, rows = 6, past = 4, keys = past + rows, window = 3;
        float[] q = Random(random, rows * dHead), k = Random(random, keys * dHead);
        var scores = new float[rows * keys];
        CausalAttentionKernels.CausalScores(q, dHead, rows, k, dHead, dHead, past, keys, 1f, scores, VectorWidthSelector.Best, window);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < keys; j++)
                Assert.Equal(j <= past + i && j > past + i - window, !float.IsNegativeInfinity(scores[i * keys + j]));
    }

    [Fact]
    public void BadArguments_Throw()
    {
        var buffer = new float[64];
        Assert.Throws<ArgumentOutOfRangeException>(() => CausalAttentionKernels.CausalScores(buffer, 8, 2, buffer, 8, 8, 0, 2, 1f, buffer, VectorWidth.Scalar, -1));
        Assert.Throws<ArgumentException>(() => CausalAttentionKernels.Attend(buffer, 8, 2, buffer.AsSpan(0, 8), 8, buffer, 8, 8, 0, 0, 1f, buffer, 8, VectorWidth.Scalar));
        Assert.Throws<ArgumentException>(() => CausalAttentionKernels.CausalSoftmax(buffer.AsSpan(0, 7), 4, 2, 0));
    }
}
