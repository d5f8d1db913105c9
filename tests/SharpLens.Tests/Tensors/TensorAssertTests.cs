using SharpLens.Tests.Support;
using Xunit.Sdk;

namespace SharpLens.Tests.Tensors;

/// <summary>The parity helper itself: NaN on either side must be matched by NaN on the other, infinities exactly.</summary>
public class TensorAssertTests
{
    [Fact]
    public void ExpectedNaNFailsAgainstANumber() =>
        Assert.ThrowsAny<XunitException>(() => TensorAssert.Close([1f, float.NaN], [1f, 0f], "t"));

    [Fact]
    public void ActualNaNFailsAgainstANumber() =>
        Assert.ThrowsAny<XunitException>(() => TensorAssert.Close([1f, 2f], [1f, float.NaN], "t"));

    [Fact]
    public void NaNMatchesNaNAndCloseNumbersPass() =>
        TensorAssert.Close([float.NaN, 1f, float.NegativeInfinity], [float.NaN, 1.00005f, float.NegativeInfinity], "t");

    [Fact]
    public void MismatchedInfinityAndOutOfToleranceFail()
    {
        Assert.ThrowsAny<XunitException>(() => TensorAssert.Close([float.PositiveInfinity], [float.NegativeInfinity], "t"));
        Assert.ThrowsAny<XunitException>(() => TensorAssert.Close([1f], [1.001f], "t"));
    }
}
