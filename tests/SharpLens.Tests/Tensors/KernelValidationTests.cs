using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>Kernels refuse spans that do not fit instead of truncating or reading past the data (TensorPrimitives' rule).</summary>
public class KernelValidationTests
{
    [Fact]
    public void DotShortRejectsUnequalLengths() =>
        Assert.Throws<ArgumentException>(() => Kernels.DotShort(new float[8], new float[7]));

    [Fact]
    public void AxpyShortRejectsUnequalLengthsAndPartialOverlap()
    {
        Assert.Throws<ArgumentException>(() => Kernels.AxpyShort(1f, new float[8], new float[9]));
        var buffer = new float[10];
        Assert.Throws<ArgumentException>(() => Kernels.AxpyShort(1f, buffer.AsSpan(0, 8), buffer.AsSpan(2, 8)));
        buffer.AsSpan().Fill(1f);
        Kernels.AxpyShort(2f, buffer, buffer); // exact aliasing is in place: y = y + 2y
        Assert.All(buffer, v => Assert.Equal(3f, v));
    }

    [Fact]
    public void AddBiasRowsRejectsPartialRowsEmptyBiasAndOverlap()
    {
        Assert.Throws<ArgumentException>(() => Kernels.AddBiasRows(new float[10], new float[4]));
        Assert.Throws<ArgumentException>(() => Kernels.AddBiasRows(new float[4], ReadOnlySpan<float>.Empty));
        var buffer = new float[8];
        Assert.Throws<ArgumentException>(() => Kernels.AddBiasRows(buffer.AsSpan(0, 8), buffer.AsSpan(4, 4)));
        Kernels.AddBiasRows(Span<float>.Empty, new float[3]); // nothing to do is fine
    }

    [Fact]
    public void LayerNormRejectsEveryMisfitSpan()
    {
        var x = new float[12];
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.LayerNorm(x, 0, 1e-5f, new float[3], new float[12]));
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(x, 5, 1e-5f, new float[3], new float[12]));
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(x, 4, 1e-5f, new float[2], new float[12]));
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(x, 4, 1e-5f, new float[3], new float[11]));
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(x, 4, 1e-5f, new float[3], new float[12], new float[3]));
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(x, 4, 1e-5f, new float[3], new float[12], new float[4], new float[5]));
        var shared = new float[16];
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(shared.AsSpan(0, 12), 4, 1e-5f, new float[3], shared.AsSpan(4, 12)));
    }

    [Fact]
    public void LayerNormInPlaceEqualsOutOfPlace()
    {
        var random = new Random(5);
        var x = Enumerable.Range(0, 24).Select(_ => (float)random.NextDouble()).ToArray();
        var expected = new float[24];
        Kernels.LayerNorm(x, 8, 1e-5f, new float[3], expected);
        Kernels.LayerNorm(x, 8, 1e-5f, new float[3], x);
        Assert.Equal(expected, x);
    }

    [Fact]
    public void SoftmaxRowsRejectsPartialRowsAndZeroWidth()
    {
        Assert.Throws<ArgumentException>(() => Kernels.SoftmaxRows(new float[10], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.SoftmaxRows(new float[10], 0));
    }

    [Fact]
    public void SoftmaxRejectsEmptyRowsShortDestinationAndPartialOverlap()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Softmax([], new float[1]));
        Assert.Throws<ArgumentException>(() => Kernels.Softmax(new float[8], new float[7]));
        var buffer = new float[10];
        Assert.Throws<ArgumentException>(() => Kernels.Softmax(buffer.AsSpan(0, 8), buffer.AsSpan(1, 8)));
        Kernels.Softmax(buffer.AsSpan(0, 8), buffer.AsSpan(0, 8)); // in place is allowed
        Assert.All(buffer[..8], p => Assert.Equal(0.125f, p));
    }

    [Fact]
    public void GeluNewRejectsShortDestinationAndPartialOverlap()
    {
        Assert.Throws<ArgumentException>(() => Kernels.GeluNew(new float[8], new float[7]));
        var buffer = new float[10];
        Assert.Throws<ArgumentException>(() => Kernels.GeluNew(buffer.AsSpan(0, 8), buffer.AsSpan(1, 8)));
    }
}
