using System.Numerics;
using SharpLens.Analysis.Weights;
using SharpLens.Tensors;

namespace SharpLens.Tests.Analysis.Weights;

/// <summary>FactoredMatrix's algebra (TransformerLens semantics) and the general eigenvalue solver on known cases.</summary>
public class FactoredMatrixTests
{
    private static DoubleMatrix Random(int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var m = new DoubleMatrix(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = random.NextDouble() * 2 - 1;
        return m;
    }

    private static void AssertClose(DoubleMatrix expected, DoubleMatrix actual, string what, double tol = 1e-9)
    {
        Assert.Equal((expected.Rows, expected.Cols), (actual.Rows, actual.Cols));
        for (int i = 0; i < expected.Data.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tol, $"{what}[{i}]: {actual.Data[i]}, expected {expected.Data[i]}");
    }

    private static DoubleMatrix Reconstruct(FactoredMatrix f)
    {
        var us = f.U.Clone();
        for (int j = 0; j < us.Cols; j++)
            for (int i = 0; i < us.Rows; i++) us[i, j] *= f.S[j];
        return us * f.Vh.Transpose();
    }

    [Theory]
    [InlineData(7, 3, 5)]    // low rank, tall and wide
    [InlineData(4, 6, 5)]    // inner dimension larger than the outer ones
    [InlineData(6, 6, 6)]
    public void SvdReconstructsTheProductWithOrthonormalFactors(int l, int m, int r)
    {
        var f = new FactoredMatrix(Random(l, m, 1), Random(m, r, 2));
        int k = Math.Min(l, Math.Min(m, r));
        Assert.Equal(k, f.S.Length);
        AssertClose(f.AB, Reconstruct(f), "U S Vhᵀ");
        AssertClose(DoubleMatrix.Identity(k), f.U.Transpose() * f.U, "UᵀU");
        AssertClose(DoubleMatrix.Identity(k), f.Vh.Transpose() * f.Vh, "VhᵀVh");
        for (int i = 1; i < k; i++) Assert.True(f.S[i] <= f.S[i - 1]);
        Assert.Equal(SmallLinearAlgebra.FrobeniusNorm(f.AB), f.Norm(), 9);
    }

    [Fact]
    public void TransposeCompositionAndCollapsesFollowTransformerLens()
    {
        var f = new FactoredMatrix(Random(8, 3, 3), Random(3, 8, 4));
        AssertClose(f.AB.Transpose(), f.T.AB, "T");
        var m = Random(8, 5, 5);
        AssertClose(f.AB * m, (f * m).AB, "F·M");
        AssertClose(m.Transpose() * f.AB, (m.Transpose() * f).AB, "M·F");
        var g = new FactoredMatrix(Random(8, 2, 6), Random(2, 4, 7));
        AssertClose(f.AB * g.AB, (f * g).AB, "F·G");
        AssertClose(f.AB, f.MakeEven().AB, "make_even keeps the product");
        var even = f.MakeEven();
        AssertClose(even.A.Transpose() * even.A, even.B * even.B.Transpose(), "make_even balances the factors", 1e-9);
        // collapse_l keeps ‖F·X‖ for any X; collapse_r keeps ‖X·F‖.
        var x = Random(8, 4, 8);
        Assert.Equal(SmallLinearAlgebra.FrobeniusNorm(f.AB * x), SmallLinearAlgebra.FrobeniusNorm(f.CollapseL() * x), 9);
        Assert.Equal(SmallLinearAlgebra.FrobeniusNorm(x.Transpose() * f.AB), SmallLinearAlgebra.FrobeniusNorm(x.Transpose() * f.CollapseR()), 9);
        AssertClose(f.AB * Random(8, 1, 9), ColumnOf(f.Multiply(Random(8, 1, 9).Data)), "F·v");
        Assert.Equal(f.AB[2, 5], f.Row(2)[5], 12);
        Assert.Equal(f.AB[1, 2], f.GetCorner(3)[1, 2], 12);
        Assert.Throws<ShapeMismatchException>(() => new FactoredMatrix(Random(3, 2, 1), Random(3, 2, 1)));
        Assert.Throws<ShapeMismatchException>(() => new FactoredMatrix(Random(3, 2, 1), Random(2, 4, 1)).BA);
    }

    private static DoubleMatrix ColumnOf(double[] v)
    {
        var m = new DoubleMatrix(v.Length, 1);
        v.CopyTo(m.Data, 0);
        return m;
    }

    [Fact]
    public void EigenvaluesOfKnownMatrices()
    {
        // A rotation by 90° has ±i; a triangular matrix its diagonal; a symmetric one real values.
        var rotation = new DoubleMatrix(2, 2) { [0, 1] = -1, [1, 0] = 1 };
        var e = SmallLinearAlgebra.Eigenvalues(rotation).OrderBy(z => z.Imaginary).ToArray();
        Assert.Equal(new Complex(0, -1), e[0]);
        Assert.Equal(new Complex(0, 1), e[1]);
        var triangular = new DoubleMatrix(4, 4);
        double[] diag = [3, -2, 0.5, 7];
        for (int i = 0; i < 4; i++) { triangular[i, i] = diag[i]; for (int j = i + 1; j < 4; j++) triangular[i, j] = i + j; }
        Assert.Equal(diag.Order(), SmallLinearAlgebra.Eigenvalues(triangular).Select(z => Math.Round(z.Real, 10)).Order());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(33)]
    public void EigenvaluesOfRandomMatricesSumToTheTraceAndAreRoots(int n)
    {
        var a = Random(n, n, 100 + n);
        var e = SmallLinearAlgebra.Eigenvalues(a);
        Assert.Equal(n, e.Length);
        double trace = 0;
        for (int i = 0; i < n; i++) trace += a[i, i];
        var sum = e.Aggregate(Complex.Zero, (s, z) => s + z);
        Assert.True(Math.Abs(sum.Real - trace) < 1e-9 && Math.Abs(sum.Imaginary) < 1e-9, $"Σλ = {sum}, trace {trace}");
        // Each λ makes A − λI singular: Gaussian elimination with partial pivoting meets a (near-)zero pivot.
        double scale = SmallLinearAlgebra.FrobeniusNorm(a);
        foreach (var z in e)
            Assert.True(SmallestPivot(a, z) < 1e-8 * scale, $"λ = {z} is not an eigenvalue of the {n}x{n} matrix");
    }

    private static double SmallestPivot(DoubleMatrix a, Complex shift)
    {
        int n = a.Rows;
        var m = new Complex[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) m[i, j] = a[i, j] - (i == j ? shift : Complex.Zero);
        double smallest = double.MaxValue;
        for (int c = 0; c < n; c++)
        {
            int pivot = Enumerable.Range(c, n - c).MaxBy(r => m[r, c].Magnitude);
            for (int j = 0; j < n; j++) (m[c, j], m[pivot, j]) = (m[pivot, j], m[c, j]);
            smallest = Math.Min(smallest, m[c, c].Magnitude);
            if (m[c, c] == Complex.Zero) continue;
            for (int r = c + 1; r < n; r++)
            {
                var f = m[r, c] / m[c, c];
                for (int j = c; j < n; j++) m[r, j] -= f * m[c, j];
            }
        }
        return smallest;
    }
}
