using SharpLens.Tensors;

namespace SharpLens.Tests.Support;

/// <summary>The one two-sided tolerance check used by every parity test: |a - e| ≤ atol + rtol·|e|; NaN must meet NaN and ±inf the same infinity.</summary>
public static class TensorAssert
{
    public static void Close(Tensor expected, Tensor actual, string what, float atol = 1e-4f, float rtol = 0f)
    {
        Assert.True(expected.SameShape(actual), $"{what}: shape {actual.ShapeString}, expected {expected.ShapeString}");
        Close(expected.Data, actual.Data, what, atol, rtol);
    }

    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, float atol = 1e-4f, float rtol = 0f)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0; int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            // NaN and ±inf must be matched exactly; an arithmetic difference would be NaN and compare false, which
            // once let an expected NaN pass against any number.
            if (float.IsNaN(e) || float.IsNaN(a) || float.IsInfinity(e) || float.IsInfinity(a))
            {
                bool same = float.IsNaN(e) ? float.IsNaN(a) : e == a;
                if (!same && worst < float.PositiveInfinity) { worst = float.PositiveInfinity; worstAt = i; }
                continue;
            }
            float excess = MathF.Abs(a - e) - (atol + rtol * MathF.Abs(e));
            if (excess > worst) { worst = excess; worstAt = i; }
        }
        if (worstAt >= 0)
            Assert.Fail($"{what}: element {worstAt} is {actual[worstAt]}, expected {expected[worstAt]} (tolerance {atol} + {rtol}·|e|)");
    }
}
