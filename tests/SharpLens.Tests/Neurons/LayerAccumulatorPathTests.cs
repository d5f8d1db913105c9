using SharpLens.Neurons.Indexing;
using SharpLens.Tensors;

namespace SharpLens.Tests.Neurons;

/// <summary>
/// The vectorised per-window statistics (16 and 8 neurons per vector, histogram counts bumped from vector bin indices)
/// against their scalar twin, on activations that hit every histogram bin, both signs, zeros and extremes; and the fast
/// fixed-point conversion against the plain Int128 one.
/// </summary>
public class LayerAccumulatorPathTests
{
    public static TheoryData<int> Widths() => new(VectorWidthSelector.Supported.Select(w => (int)w));

    [Theory, MemberData(nameof(Widths))]
    public void EveryVectorWidthGivesTheScalarPathsStatisticsAndHistogram(int width)
    {
        const int neurons = 43, pos = 37, windows = 2;   // 16 + 16 + 8 lanes and a scalar tail of 3
        var random = new Random(3);
        float[] special = [0f, -0f, 1e-30f, -1e-30f, 1e30f, -1e30f, 256f, -448f, 0.00390625f];
        var post = new float[windows * pos * neurons];
        for (int i = 0; i < post.Length; i++)
            post[i] = random.Next(10) == 0 ? special[random.Next(special.Length)] : (float)(Math.Pow(2, random.NextDouble() * 20 - 10) * (random.Next(2) * 2 - 1));
        var (scalar, scalarHistogram) = Run(post, neurons, pos, windows, VectorWidth.Scalar);
        var (vector, vectorHistogram) = Run(post, neurons, pos, windows, (VectorWidth)width);
        Assert.Equal(scalar, vector);
        Assert.Equal(scalarHistogram, vectorHistogram);
        Assert.True(scalarHistogram.Count(c => c > 0) > 100, "the activations should spread over most bins");
    }

    private static (List<object> Values, long[] Histogram) Run(float[] post, int neurons, int pos, int windows, VectorWidth width)
    {
        var acc = new LayerAccumulator(0, neurons, 3);
        var values = new List<object>();
        for (int b = 0; b < windows; b++)
            foreach (var (t0, w) in new[] { (0, neurons), (5, 19) })   // a whole row and an unaligned tile
            {
                float[] max = new float[w], min = new float[w];
                int[] arg = new int[w], positive = new int[w];
                double[] sum = new double[w], squares = new double[w];
                acc.AddWindow(post, b * pos * neurons, pos, t0, w, max, min, arg, positive, sum, squares, width);
                values.AddRange([.. max.Cast<object>(), .. min.Cast<object>(), .. arg.Cast<object>(), .. positive.Cast<object>(), .. sum.Cast<object>(), .. squares.Cast<object>()]);
            }
        return (values, acc.Histogram);
    }

    [Fact]
    public void FixedPointConversionEqualsTheInt128Cast()
    {
        var random = new Random(4);
        double[] edge = [0, -0.0, 1e-12, -1e-12, 0.5, -0.5, 2147483647.9, -2147483648.9, 1e10, -1e10, 3e9, double.MaxValue / 1e300];
        foreach (var v in edge.Concat(Enumerable.Range(0, 2000).Select(_ => (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 12)))))
            Assert.Equal((Int128)(v * 4294967296.0), LayerAccumulator.ToFixed(v));
    }
}
