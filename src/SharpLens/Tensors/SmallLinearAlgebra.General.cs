using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Tensors;

public static partial class SmallLinearAlgebra
{
    /// <summary>
    /// Thin SVD of a matrix of any shape: A = U·diag(S)·Vᵀ with k = min(m, n), U [m, k] and V [n, k] orthonormal
    /// columns, S [k] descending (torch.linalg.svd(full_matrices=False) up to the sign of each singular pair).
    /// A tall matrix is first reduced by QR (A = Q·R) so the Jacobi sweeps only see the k×k factor R; a wide one is
    /// decomposed through its transpose.
    /// </summary>
    public static SingularValueDecomposition ThinSvd(DoubleMatrix a)
    {
        if (a.Rows < a.Cols)
        {
            var t = ThinSvd(a.Transpose());
            return new SingularValueDecomposition(t.V, t.S, t.U);
        }
        if (a.Cols == 0) return new SingularValueDecomposition(new DoubleMatrix(a.Rows, 0), [], new DoubleMatrix(0, 0));
        var qr = Qr(a);
        var core = Svd(qr.R);
        return new SingularValueDecomposition(qr.MultiplyQ(core.U), core.S, core.V);
    }

    /// <summary>
    /// All eigenvalues of a real square matrix (torch.linalg.eigvals), in no particular order: complex pairs appear as
    /// conjugates. Householder reduction to upper Hessenberg form, then Francis double-shift QR iterations with
    /// deflation (the eigenvalue part of EISPACK's hqr2, as in JAMA), in double precision.
    /// </summary>
    /// <exception cref="ShapeMismatchException">the matrix is not square.</exception>
    /// <exception cref="ArgumentException">an element is NaN or infinite.</exception>
    public static Complex[] Eigenvalues(DoubleMatrix a)
    {
        if (a.Rows != a.Cols) throw new ShapeMismatchException($"eigenvalues need a square matrix, got {a.Rows}x{a.Cols}");
        foreach (double x in a.Data)
            if (!double.IsFinite(x)) throw new ArgumentException("eigenvalue input has a NaN or infinite element");
        int n = a.Rows;
        var h = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) h[i, j] = a[i, j];
        ReduceToHessenberg(h);
        return HessenbergEigenvalues(h);
    }

    // Householder similarity transforms H ← P·H·P zeroing each column below its subdiagonal (EISPACK orthes).
    private static void ReduceToHessenberg(double[,] h)
    {
        int n = h.GetLength(0), high = n - 1;
        var ort = new double[n];
        for (int m = 1; m <= high - 1; m++)
        {
            double scale = 0;
            for (int i = m; i <= high; i++) scale += Math.Abs(h[i, m - 1]);
            if (scale == 0) continue;
            double sum = 0;
            for (int i = high; i >= m; i--) { ort[i] = h[i, m - 1] / scale; sum += ort[i] * ort[i]; }
            double g = Math.Sqrt(sum);
            if (ort[m] > 0) g = -g;
            sum -= ort[m] * g;
            ort[m] -= g;
            for (int j = m; j < n; j++)
            {
                double f = 0;
                for (int i = high; i >= m; i--) f += ort[i] * h[i, j];
                f /= sum;
                for (int i = m; i <= high; i++) h[i, j] -= f * ort[i];
            }
            for (int i = 0; i <= high; i++)
            {
                double f = 0;
                for (int j = high; j >= m; j--) f += ort[j] * h[i, j];
                f /= sum;
                for (int j = m; j <= high; j++) h[i, j] -= f * ort[j];
            }
            ort[m] *= scale;
            h[m, m - 1] = scale * g;
        }
    }

    // Francis double-shift QR on an upper Hessenberg matrix, deflating one real root or a 2×2 block at a time.
    private static Complex[] HessenbergEigenvalues(double[,] h)
    {
        int size = h.GetLength(0), n = size - 1, iter = 0, totalIter = 0;
        var re = new double[size];
        var im = new double[size];
        const double eps = 2.220446049250313e-16;
        double exshift = 0, p = 0, q = 0, r = 0, s = 0, z = 0, w, x, y;
        double norm = 0;
        for (int i = 0; i < size; i++)
            for (int j = Math.Max(i - 1, 0); j < size; j++) norm += Math.Abs(h[i, j]);

        while (n >= 0)
        {
            int l = n;
            while (l > 0)
            {
                s = Math.Abs(h[l - 1, l - 1]) + Math.Abs(h[l, l]);
                if (s == 0) s = norm;
                if (Math.Abs(h[l, l - 1]) < eps * s) break;
                l--;
            }
            if (l == n)
            {
                re[n] = h[n, n] + exshift; im[n] = 0;
                n--; iter = 0;
            }
            else if (l == n - 1)
            {
                w = h[n, n - 1] * h[n - 1, n];
                p = (h[n - 1, n - 1] - h[n, n]) / 2.0;
                q = p * p + w;
                z = Math.Sqrt(Math.Abs(q));
                x = h[n, n] + exshift;
                if (q >= 0)
                {
                    z = p >= 0 ? p + z : p - z;
                    re[n - 1] = x + z;
                    re[n] = z != 0 ? x - w / z : x + z;
                    im[n - 1] = 0; im[n] = 0;
                }
                else
                {
                    re[n - 1] = x + p; re[n] = x + p;
                    im[n - 1] = z; im[n] = -z;
                }
                n -= 2; iter = 0;
            }
            else
            {
                if (++totalIter > 100 * size) throw new SharpLensException($"eigenvalue QR iteration did not converge for a {size}x{size} matrix");
                x = h[n, n]; y = 0; w = 0;
                if (l < n) { y = h[n - 1, n - 1]; w = h[n, n - 1] * h[n - 1, n]; }
                if (iter == 10)
                {
                    // Wilkinson's exceptional shift breaks cycles.
                    exshift += x;
                    for (int i = 0; i <= n; i++) h[i, i] -= x;
                    s = Math.Abs(h[n, n - 1]) + Math.Abs(h[n - 1, n - 2]);
                    x = y = 0.75 * s;
                    w = -0.4375 * s * s;
                }
                if (iter == 30)
                {
                    s = (y - x) / 2.0;
                    s = s * s + w;
                    if (s > 0)
                    {
                        s = Math.Sqrt(s);
                        if (y < x) s = -s;
                        s = x - w / ((y - x) / 2.0 + s);
                        for (int i = 0; i <= n; i++) h[i, i] -= s;
                        exshift += s;
                        x = y = w = 0.964;
                    }
                }
                iter++;
                int m = n - 2;
                while (m >= l)
                {
                    z = h[m, m];
                    r = x - z;
                    s = y - z;
                    p = (r * s - w) / h[m + 1, m] + h[m, m + 1];
                    q = h[m + 1, m + 1] - z - r - s;
                    r = h[m + 2, m + 1];
                    s = Math.Abs(p) + Math.Abs(q) + Math.Abs(r);
                    p /= s; q /= s; r /= s;
                    if (m == l) break;
                    if (Math.Abs(h[m, m - 1]) * (Math.Abs(q) + Math.Abs(r)) <
                        eps * (Math.Abs(p) * (Math.Abs(h[m - 1, m - 1]) + Math.Abs(z) + Math.Abs(h[m + 1, m + 1])))) break;
                    m--;
                }
                for (int i = m + 2; i <= n; i++)
                {
                    h[i, i - 2] = 0;
                    if (i > m + 2) h[i, i - 3] = 0;
                }
                for (int k = m; k <= n - 1; k++)
                {
                    bool notLast = k != n - 1;
                    if (k != m)
                    {
                        p = h[k, k - 1];
                        q = h[k + 1, k - 1];
                        r = notLast ? h[k + 2, k - 1] : 0.0;
                        x = Math.Abs(p) + Math.Abs(q) + Math.Abs(r);
                        if (x == 0.0) continue;
                        p /= x; q /= x; r /= x;
                    }
                    s = Math.Sqrt(p * p + q * q + r * r);
                    if (p < 0) s = -s;
                    if (s == 0) continue;
                    if (k != m) h[k, k - 1] = -s * x;
                    else if (l != m) h[k, k - 1] = -h[k, k - 1];
                    p += s;
                    x = p / s; y = q / s; z = r / s;
                    q /= p; r /= p;
                    for (int j = k; j < size; j++)
                    {
                        p = h[k, j] + q * h[k + 1, j];
                        if (notLast) { p += r * h[k + 2, j]; h[k + 2, j] -= p * z; }
                        h[k, j] -= p * x;
                        h[k + 1, j] -= p * y;
                    }
                    for (int i = 0; i <= Math.Min(n, k + 3); i++)
                    {
                        p = x * h[i, k] + y * h[i, k + 1];
                        if (notLast) { p += z * h[i, k + 2]; h[i, k + 2] -= p * r; }
                        h[i, k] -= p;
                        h[i, k + 1] -= p * q;
                    }
                }
            }
        }
        var result = new Complex[size];
        for (int i = 0; i < size; i++) result[i] = new Complex(re[i], im[i]);
        return result;
    }

    /// <summary>Frobenius norm √(Σ a_ij²).</summary>
    public static double FrobeniusNorm(DoubleMatrix a) => TensorPrimitives.Norm((ReadOnlySpan<double>)a.Data);
}
