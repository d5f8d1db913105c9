using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Tensors;

/// <summary>
/// A small dense matrix of doubles, stored column-major (each column contiguous), for the exact
/// linear algebra of weight processing. Not a general tensor type: activations stay <see cref="Tensor"/>s.
/// </summary>
public sealed class DoubleMatrix
{
    /// <summary>Column-major elements: element (i, j) is at <c>j·Rows + i</c>.</summary>
    public double[] Data { get; }
    /// <summary>Number of rows (m).</summary>
    public int Rows { get; }
    /// <summary>Number of columns (n).</summary>
    public int Cols { get; }

    /// <summary>A zero matrix of <paramref name="rows"/> × <paramref name="cols"/>.</summary>
    public DoubleMatrix(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        Rows = rows; Cols = cols;
        Data = new double[(long)rows * cols];
    }

    /// <summary>Element (<paramref name="i"/>, <paramref name="j"/>): row i, column j; checked against the bounds.</summary>
    public double this[int i, int j]
    {
        get => Data[Index(i, j)];
        set => Data[Index(i, j)] = value;
    }

    private int Index(int i, int j)
    {
        if ((uint)i >= (uint)Rows || (uint)j >= (uint)Cols)
            throw new IndexOutOfRangeException($"({i}, {j}) out of range for a {Rows}x{Cols} matrix");
        return j * Rows + i;
    }

    /// <summary>Column <paramref name="j"/>, contiguous.</summary>
    public Span<double> Column(int j) => Data.AsSpan(j * Rows, Rows);

    /// <summary>The n × n identity matrix.</summary>
    public static DoubleMatrix Identity(int n)
    {
        var m = new DoubleMatrix(n, n);
        for (int i = 0; i < n; i++) m.Data[i * n + i] = 1;
        return m;
    }

    /// <summary>A copy with its own storage.</summary>
    public DoubleMatrix Clone()
    {
        var m = new DoubleMatrix(Rows, Cols);
        Data.CopyTo(m.Data, 0);
        return m;
    }

    /// <summary>The transpose, as a new Cols × Rows matrix.</summary>
    public DoubleMatrix Transpose()
    {
        var t = new DoubleMatrix(Cols, Rows);
        for (int j = 0; j < Cols; j++)
            for (int i = 0; i < Rows; i++) t.Data[i * Cols + j] = Data[j * Rows + i];
        return t;
    }

    /// <summary>a·b.</summary>
    public static DoubleMatrix operator *(DoubleMatrix a, DoubleMatrix b)
    {
        if (a.Cols != b.Rows) throw new ShapeMismatchException($"cannot multiply {a.Rows}x{a.Cols} by {b.Rows}x{b.Cols}");
        var c = new DoubleMatrix(a.Rows, b.Cols);
        // column j of c = Σ_k a[:, k]·b[k, j]
        for (int j = 0; j < b.Cols; j++)
            for (int k = 0; k < a.Cols; k++)
                TensorPrimitives.MultiplyAdd(a.Column(k), b[k, j], c.Column(j), c.Column(j));
        return c;
    }
}

/// <summary>
/// A thin Householder QR factorisation A = Q·R of an m×n matrix, m ≥ n: Q is m×n with orthonormal
/// columns (kept implicitly as n reflectors), R is n×n upper triangular. Q is orthonormal even when A
/// is rank-deficient (R then has zeros on its diagonal).
/// </summary>
internal sealed class HouseholderQr
{
    // Reflector j is H_j = I - 2·v_j·v_jᵀ acting on rows j..m-1, with v_j a unit vector (or zero: H_j = I).
    private readonly double[][] _reflectors;

    public int Rows { get; }
    /// <summary>The n×n upper-triangular factor.</summary>
    public DoubleMatrix R { get; }

    public HouseholderQr(DoubleMatrix a)
    {
        int m = a.Rows, n = a.Cols;
        if (m < n) throw new ShapeMismatchException($"thin QR needs rows ≥ columns, got {m}x{n}");
        Rows = m;
        var work = a.Clone();
        _reflectors = new double[n][];
        for (int j = 0; j < n; j++)
        {
            // Reflect x = work[j.., j] onto alpha·e_1 with alpha = -sign(x_0)·|x| (no cancellation in v_0).
            var x = work.Column(j)[j..];
            double norm = TensorPrimitives.Norm((ReadOnlySpan<double>)x);
            var v = x.ToArray();
            if (norm == 0) { _reflectors[j] = new double[m - j]; continue; }   // zero column: H_j = I
            double alpha = x[0] >= 0 ? -norm : norm;
            v[0] -= alpha;
            TensorPrimitives.Divide(v, TensorPrimitives.Norm((ReadOnlySpan<double>)v), v);
            _reflectors[j] = v;
            for (int c = j; c < n; c++) Reflect(v, work.Column(c)[j..]);
        }
        R = new DoubleMatrix(n, n);
        for (int j = 0; j < n; j++)
            for (int i = 0; i <= j; i++) R[i, j] = work[i, j];
    }

    /// <summary>Q·Y for an n×c matrix Y (i.e. the full m×m Q times Y padded with zero rows): m×c.</summary>
    public DoubleMatrix MultiplyQ(DoubleMatrix y)
    {
        int n = _reflectors.Length;
        if (y.Rows != n) throw new ShapeMismatchException($"Q·Y needs Y with {n} rows, got {y.Rows}x{y.Cols}");
        var z = new DoubleMatrix(Rows, y.Cols);
        for (int c = 0; c < y.Cols; c++) y.Column(c).CopyTo(z.Column(c));
        // Q = H_0·H_1·…·H_{n-1}: apply the last reflector first.
        for (int j = n - 1; j >= 0; j--)
            for (int c = 0; c < z.Cols; c++) Reflect(_reflectors[j], z.Column(c)[j..]);
        return z;
    }

    /// <summary>The m×n Q itself.</summary>
    public DoubleMatrix ThinQ() => MultiplyQ(DoubleMatrix.Identity(_reflectors.Length));

    // x ← (I - 2·v·vᵀ)·x
    private static void Reflect(ReadOnlySpan<double> v, Span<double> x)
    {
        double s = 2 * TensorPrimitives.Dot(v, (ReadOnlySpan<double>)x);
        if (s != 0) TensorPrimitives.MultiplyAdd(v, -s, x, x);
    }
}

/// <summary>Thin SVD A = U·diag(S)·Vᵀ of an m×n matrix, m ≥ n: U m×n and V n×n with orthonormal columns, S descending.</summary>
public sealed record SingularValueDecomposition(DoubleMatrix U, double[] S, DoubleMatrix V);

/// <summary>
/// Exact double-precision decompositions of small dense matrices (SVD, eigenvalues, norms), for the weight-space
/// analyses (<c>FactoredMatrix</c>, composition scores) where the matrices are d_head-sized cores.
/// </summary>
public static partial class SmallLinearAlgebra
{
    /// <summary>Thin Householder QR of an m×n matrix (m ≥ n).</summary>
    internal static HouseholderQr Qr(DoubleMatrix a) => new(a);

    /// <summary>
    /// Thin SVD of an m×n matrix (m ≥ n) by one-sided (Hestenes) Jacobi: rotate pairs of columns of
    /// W = A·V until every pair is orthogonal to working precision; then S = column norms of W, U = W/S.
    /// Accurate to high relative precision and simple, for the small d_head×d_head cores it is used on.
    /// Columns of U for zero singular values are completed to an orthonormal set.
    /// </summary>
    public static SingularValueDecomposition Svd(DoubleMatrix a, int maxSweeps = 60)
    {
        int m = a.Rows, n = a.Cols;
        if (m < n) throw new ShapeMismatchException($"thin SVD needs rows ≥ columns, got {m}x{n} (decompose the transpose)");
        foreach (double x in a.Data)
            if (!double.IsFinite(x)) throw new ArgumentException("SVD input has a NaN or infinite element");
        var w = a.Clone();
        var v = DoubleMatrix.Identity(n);
        const double eps = 2.220446049250313e-16;
        var norm2 = new double[n];   // ‖w_j‖², refreshed each sweep and updated exactly by each rotation
        for (int sweep = 0; ; sweep++)
        {
            if (sweep == maxSweeps) throw new SharpLensException($"Jacobi SVD did not converge in {maxSweeps} sweeps");
            for (int j = 0; j < n; j++) norm2[j] = TensorPrimitives.Dot((ReadOnlySpan<double>)w.Column(j), w.Column(j));
            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double alpha = norm2[p], beta = norm2[q];
                    double gamma = TensorPrimitives.Dot((ReadOnlySpan<double>)w.Column(p), w.Column(q));
                    if (gamma == 0 || Math.Abs(gamma) <= eps * Math.Sqrt(alpha) * Math.Sqrt(beta)) continue;
                    rotated = true;
                    // The rotation [c s; -s c] that diagonalises the 2×2 Gram matrix [alpha gamma; gamma beta].
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.Sign(zeta == 0 ? 1 : zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    double c = 1 / Math.Sqrt(1 + t * t), sn = c * t;
                    Rotate(w.Column(p), w.Column(q), c, sn);
                    Rotate(v.Column(p), v.Column(q), c, sn);
                    norm2[p] = alpha - t * gamma;
                    norm2[q] = beta + t * gamma;
                }
            if (!rotated) break;
        }

        var sigma = new double[n];
        for (int j = 0; j < n; j++) sigma[j] = TensorPrimitives.Norm((ReadOnlySpan<double>)w.Column(j));
        var order = Enumerable.Range(0, n).OrderByDescending(j => sigma[j]).ToArray();
        var u = new DoubleMatrix(m, n);
        var vs = new DoubleMatrix(n, n);
        var s = new double[n];
        double tiny = (order.Length > 0 ? sigma[order[0]] : 0) * 1e-100;   // below this a column's direction is noise
        var missing = new List<int>();
        for (int k = 0; k < n; k++)
        {
            int j = order[k];
            s[k] = sigma[j];
            v.Column(j).CopyTo(vs.Column(k));
            if (sigma[j] > tiny && sigma[j] > 0) TensorPrimitives.Divide(w.Column(j), sigma[j], u.Column(k));
            else missing.Add(k);
        }
        CompleteOrthonormal(u, missing);
        return new SingularValueDecomposition(u, s, vs);
    }

    // (x, y) ← (c·x - s·y, s·x + c·y)
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        Span<double> x0 = x.Length <= 256 ? stackalloc double[x.Length] : new double[x.Length];
        x.CopyTo(x0);
        TensorPrimitives.Multiply(x, c, x);
        TensorPrimitives.MultiplyAdd(y, -s, x, x);
        TensorPrimitives.Multiply(y, c, y);
        TensorPrimitives.MultiplyAdd(x0, s, y, y);
    }

    // Fills the listed (zero) columns of u with unit vectors orthogonal to every other column:
    // Gram–Schmidt (twice, for stability) of the standard basis vectors, taking the next whose remainder
    // has norm > 0.5/√m (one always exists: the remainders' squared norms sum to m − rank ≥ 1).
    private static void CompleteOrthonormal(DoubleMatrix u, List<int> missing)
    {
        int m = u.Rows, next = 0;
        foreach (int k in missing)
        {
            var col = u.Column(k);
            while (true)
            {
                if (next == m) throw new SharpLensException("could not complete an orthonormal basis");
                col.Clear();
                col[next++] = 1;
                for (int pass = 0; pass < 2; pass++)
                    for (int j = 0; j < u.Cols; j++)
                    {
                        if (j == k) continue;
                        var other = u.Column(j);
                        TensorPrimitives.MultiplyAdd(other, -TensorPrimitives.Dot((ReadOnlySpan<double>)other, col), col, col);
                    }
                double norm = TensorPrimitives.Norm((ReadOnlySpan<double>)col);
                if (norm > 0.5 / Math.Sqrt(m)) { TensorPrimitives.Divide(col, norm, col); break; }
            }
        }
    }
}
