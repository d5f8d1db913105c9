using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

public class KernelTests
{
    private static double GeluReference(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    [Fact]
    public void GeluNewMatchesTheTanhFormulaAtEveryLengthAndRange()
    {
        var random = new Random(3);
        for (int length = 1; length <= 130; length++)
        {
            var x = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
            var y = new float[length];
            Kernels.GeluNew(x, y);
            for (int i = 0; i < length; i++)
                Assert.True(Math.Abs(y[i] - GeluReference(x[i])) <= 1e-6 + 1e-6 * Math.Abs(GeluReference(x[i])), $"gelu({x[i]}) = {y[i]}, expected {GeluReference(x[i])}");
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
        var x = Enumerable.Repeat(value, 37).ToArray();
        var y = new float[37];
        Kernels.GeluNew(x, y);
        Assert.All(y, v => Assert.True(Math.Abs(v - GeluReference(value)) <= 1e-6 * Math.Max(1, Math.Abs(value)), $"gelu({value}) = {v}"));
    }
}
