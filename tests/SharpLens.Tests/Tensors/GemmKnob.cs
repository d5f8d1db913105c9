using SharpLens.Tensors;

namespace SharpLens.Tests.Tensors;

/// <summary>What the GEMM tests share: forcing a kernel family, random operands and the GEMM tolerance.</summary>
internal static class GemmKnob
{
    /// <summary>Forces <paramref name="isa"/> until the result is disposed (tests of one collection only: the knob is global).</summary>
    public static IDisposable Force(GemmIsa isa)
    {
        var previous = GemmIsaSelector.ForcedIsa;
        GemmIsaSelector.ForcedIsa = isa;
        return new Restore(previous);
    }

    /// <summary>Uniform values in [-1, 1).</summary>
    public static float[] Random(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle() * 2 - 1;
        return x;
    }

    /// <summary>
    /// Mixed tolerance: float sums of k terms of size ~0.25 drift by ~sqrt(k)·eps relative to their
    /// magnitude, while the reference sums in double; the absolute part covers sums that cancel to ~0.
    /// </summary>
    public static void AssertClose(float[] expected, float[] actual, int k, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float abs = 1e-5f * MathF.Sqrt(Math.Max(k, 1)) * 4;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], x = actual[i];
            float tol = abs + 1e-5f * MathF.Abs(e);
            if (!(MathF.Abs(e - x) <= tol))
                Assert.Fail($"{what}: element {i} expected {e} got {x} (tol {tol})");
        }
    }

    private sealed class Restore(GemmIsa previous) : IDisposable
    {
        public void Dispose() => GemmIsaSelector.ForcedIsa = previous;
    }
}
