using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>
/// Every kernel against a naive double-precision twin at every length from 1 to 256 (so every vector body and
/// every scalar tail runs) and at every vector width this CPU accelerates (so the Vector128 path that ARM64 runs
/// is checked on x64 too). Fixed seeds; tolerance |actual − expected| ≤ atol + rtol·scale.
/// </summary>
public class KernelTests
{
    private const int MaxLength = 256;
    public static TheoryData<int> Widths() => new(VectorWidthSelector.Supported.Select(w => (int)w));

    private static float[] RandomVector(Random random, int length, float range = 1f) =>
        Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1) * range).ToArray();

    private static void AssertClose(double expected, float actual, double scale, double atol, double rtol, string what) =>
        Assert.True(Math.Abs(actual - expected) <= atol + rtol * scale, $"{what}: {actual}, expected {expected} (scale {scale})");

    private static double GeluReference(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    [Theory, MemberData(nameof(Widths))]
    public void DotShortMatchesNaiveSumAtEveryLength(int width)
    {
        var random = new Random(11);
        for (int n = 1; n <= MaxLength; n++)
        {
            float[] a = RandomVector(random, n), b = RandomVector(random, n);
            double expected = 0, magnitude = 0;
            for (int i = 0; i < n; i++) { expected += (double)a[i] * b[i]; magnitude += Math.Abs((double)a[i] * b[i]); }
            AssertClose(expected, Kernels.DotShort(a, b, (VectorWidth)width), magnitude, 1e-7, 1e-6, $"dot n={n} width={width}");
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void AxpyShortMatchesNaiveUpdateAtEveryLength(int width)
    {
        var random = new Random(12);
        for (int n = 1; n <= MaxLength; n++)
        {
            float alpha = (float)(random.NextDouble() * 4 - 2);
            float[] x = RandomVector(random, n), y = RandomVector(random, n);
            var actual = (float[])y.Clone();
            Kernels.AxpyShort(alpha, x, actual, (VectorWidth)width);
            for (int i = 0; i < n; i++)
            {
                double expected = y[i] + (double)alpha * x[i];
                AssertClose(expected, actual[i], Math.Abs(y[i]) + Math.Abs((double)alpha * x[i]), 1e-7, 1e-6, $"axpy n={n} i={i} width={width}");
            }
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void GeluNewMatchesTheTanhFormulaAtEveryLengthAndRange(int width)
    {
        var random = new Random(3);
        for (int n = 1; n <= MaxLength; n++)
        {
            var x = RandomVector(random, n, 12f);
            var y = new float[n];
            Kernels.GeluNew(x, y, (VectorWidth)width);
            for (int i = 0; i < n; i++)
                AssertClose(GeluReference(x[i]), y[i], Math.Abs(GeluReference(x[i])), 1e-6, 1e-6, $"gelu({x[i]}) n={n} width={width}");
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void MultiplyGeluNewGradMatchesTheTanhDerivativeAtEveryLengthAndRange(int width)
    {
        var random = new Random(4);
        for (int n = 1; n <= MaxLength; n++)
        {
            var x = RandomVector(random, n, 12f);
            var dy = RandomVector(random, n, 3f);
            var dx = new float[n];
            Kernels.MultiplyGeluNewGrad(x, dy, dx, (VectorWidth)width);
            for (int i = 0; i < n; i++)
            {
                double expected = dy[i] * (double)Kernels.GeluNewGrad(x[i]);
                AssertClose(expected, dx[i], Math.Abs(dy[i]), 1e-6, 2e-6, $"dy * gelu'({x[i]}) n={n} width={width}");
            }
        }
        foreach (float extreme in new[] { 0f, -100f, 100f, -1e30f, 1e30f, 1e-30f })
        {
            var dx = new float[19];
            Kernels.MultiplyGeluNewGrad(Enumerable.Repeat(extreme, 19).ToArray(), Enumerable.Repeat(1f, 19).ToArray(), dx, (VectorWidth)width);
            float expected = extreme > 1 ? 1f : extreme < -1 ? 0f : 0.5f;
            Assert.All(dx, v => Assert.True(Math.Abs(v - expected) <= 1e-6, $"gelu'({extreme}) = {v} at {(VectorWidth)width}"));
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-100f)]
    [InlineData(100f)]
    [InlineData(-1e30f)]
    [InlineData(1e30f)]
    [InlineData(1e-30f)]
    public void GeluNewIsFiniteAtExtremes(float value)
    {
        foreach (var width in VectorWidthSelector.Supported)
        {
            var x = Enumerable.Repeat(value, 37).ToArray();
            var y = new float[37];
            Kernels.GeluNew(x, y, width);
            Assert.All(y, v => Assert.True(Math.Abs(v - GeluReference(value)) <= 1e-6 * Math.Max(1, Math.Abs(value)), $"gelu({value}) = {v} at {width}"));
        }
    }

    [Fact]
    public void GeluNewPropagatesNaNOnEveryPath()
    {
        foreach (var width in VectorWidthSelector.Supported)
            for (int n = 1; n <= 40; n++)
            {
                var x = Enumerable.Repeat(0.5f, n).ToArray();
                x[n - 1] = float.NaN;
                var y = new float[n];
                Kernels.GeluNew(x, y, width);
                Assert.True(float.IsNaN(y[n - 1]), $"gelu(NaN) = {y[n - 1]} at n={n} {width}");
                Assert.False(float.IsNaN(y[0]) && n > 1, $"NaN leaked into a neighbour at n={n} {width}");
            }
    }

    [Fact]
    public void AddBiasRowsMatchesNaiveAddAtEveryWidth()
    {
        var random = new Random(13);
        for (int width = 1; width <= MaxLength; width++)
        {
            float[] bias = RandomVector(random, width), x = RandomVector(random, 3 * width);
            var actual = (float[])x.Clone();
            Kernels.AddBiasRows(actual, bias);
            for (int i = 0; i < x.Length; i++) Assert.Equal(x[i] + bias[i % width], actual[i]);
        }
    }

    [Fact]
    public void LayerNormMatchesNaiveDoubleAtEveryWidth()
    {
        var random = new Random(14);
        const float eps = 1e-5f;
        for (int width = 1; width <= MaxLength; width++)
        {
            const int rows = 2;
            float[] x = RandomVector(random, rows * width, 3f), w = RandomVector(random, width), b = RandomVector(random, width);
            var scale = new float[rows];
            var normalized = new float[rows * width];
            Kernels.LayerNorm(x, width, eps, scale, normalized, w, b);
            for (int r = 0; r < rows; r++)
            {
                var row = x.Skip(r * width).Take(width).Select(v => (double)v).ToArray();
                double mean = row.Average(), s = Math.Sqrt(row.Select(v => (v - mean) * (v - mean)).Average() + eps);
                AssertClose(s, scale[r], s, 1e-6, 1e-5, $"scale width={width} row={r}");
                for (int c = 0; c < width; c++)
                {
                    double expected = (row[c] - mean) / s * w[c] + b[c];
                    AssertClose(expected, normalized[r * width + c], Math.Abs(expected), 1e-5, 1e-5, $"normalized width={width} [{r},{c}]");
                }
            }
        }
    }

    [Fact]
    public void SoftmaxRowsMatchesNaiveDoubleAtEveryWidth()
    {
        var random = new Random(15);
        for (int width = 1; width <= MaxLength; width++)
        {
            var x = RandomVector(random, 2 * width, 10f);
            if (width > 1) x[width - 1] = float.NegativeInfinity; // a masked position
            var actual = (float[])x.Clone();
            Kernels.SoftmaxRows(actual, width);
            for (int r = 0; r < 2; r++)
            {
                var row = x.Skip(r * width).Take(width).Select(v => (double)v).ToArray();
                double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
                for (int c = 0; c < width; c++)
                {
                    double expected = Math.Exp(row[c] - max) / sum;
                    AssertClose(expected, actual[r * width + c], expected, 1e-7, 1e-5, $"softmax width={width} [{r},{c}]");
                }
            }
        }
    }

    [Fact]
    public void SoftmaxOfOneRowMatchesNaiveDoubleAndStaysFiniteForLargeLogits()
    {
        var random = new Random(16);
        for (int width = 1; width <= MaxLength; width++)
        {
            // Logits near 1000: exp overflows float unless the row is shifted by its maximum first.
            var x = RandomVector(random, width, 10f).Select(v => v + 1000f).ToArray();
            var y = new float[width];
            Kernels.Softmax(x, y);
            var row = x.Select(v => (double)v).ToArray();
            double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
            for (int c = 0; c < width; c++)
            {
                double expected = Math.Exp(row[c] - max) / sum;
                AssertClose(expected, y[c], expected, 1e-7, 1e-5, $"softmax width={width} [{c}]");
            }
        }
        var masked = new float[] { 0f, float.NegativeInfinity, 0f };
        Kernels.Softmax(masked, masked);
        Assert.Equal([0.5f, 0f, 0.5f], masked);
    }
}
