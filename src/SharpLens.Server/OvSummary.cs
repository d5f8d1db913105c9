using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>
/// A head's OV circuit W_OV = W_V[h] · W_O[h] ([d_model, d_model], rank ≤ d_head) summarised by its Frobenius norm and
/// singular values, computed in d_head × d_head: the squared singular values of W_V·W_O are the eigenvalues of
/// S^{1/2}·T·S^{1/2} with S = W_Vᵀ·W_V and T = W_O·W_Oᵀ, so no d_model × d_model matrix is formed.
/// </summary>
internal sealed record OvSummary(int Layer, int Head, double FrobeniusNorm, double[] SingularValues)
{
    public static OvSummary Compute(HookedTransformer model, int layer, int head)
    {
        var block = model.Weights.Blocks[layer];
        int d = model.Config.DModel, dh = model.Config.DHead;
        var wv = block.W_V.Data.AsSpan(head * d * dh, d * dh);   // [d_model, d_head]
        var wo = block.W_O.Data.AsSpan(head * dh * d, dh * d);   // [d_head, d_model]
        var s = new double[dh, dh];
        var t = new double[dh, dh];
        for (int i = 0; i < dh; i++)
            for (int j = i; j < dh; j++)
            {
                double sv = 0, tv = 0;
                for (int k = 0; k < d; k++) { sv += (double)wv[k * dh + i] * wv[k * dh + j]; tv += (double)wo[i * d + k] * wo[j * d + k]; }
                s[i, j] = s[j, i] = sv; t[i, j] = t[j, i] = tv;
            }
        var (values, vectors) = SymmetricEigen.Decompose(s);
        // S^{1/2} = Q diag(sqrt λ) Qᵀ (λ clipped at 0 against rounding).
        var root = new double[dh, dh];
        for (int i = 0; i < dh; i++)
            for (int j = 0; j < dh; j++)
            {
                double sum = 0;
                for (int k = 0; k < dh; k++) sum += vectors[i, k] * Math.Sqrt(Math.Max(0, values[k])) * vectors[j, k];
                root[i, j] = sum;
            }
        var m = SymmetricEigen.Multiply(SymmetricEigen.Multiply(root, t), root);
        var (squares, _) = SymmetricEigen.Decompose(m);
        var singular = squares.Select(v => Math.Sqrt(Math.Max(0, v))).OrderByDescending(v => v).ToArray();
        return new OvSummary(layer, head, Math.Sqrt(singular.Sum(v => v * v)), singular);
    }
}

/// <summary>Cyclic Jacobi eigen-decomposition of small symmetric matrices (d_head × d_head), in double precision.</summary>
internal static class SymmetricEigen
{
    /// <summary>Eigenvalues and eigenvectors (as columns) of the symmetric matrix <paramref name="a"/> [n, n].</summary>
    public static (double[] Values, double[,] Vectors) Decompose(double[,] a)
    {
        int n = a.GetLength(0);
        var m = (double[,])a.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) { total += m[i, j] * m[i, j]; if (i != j) off += m[i, j] * m[i, j]; }
            if (off <= 1e-24 * Math.Max(total, 1e-300)) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    if (Math.Abs(m[p, q]) < 1e-300) continue;
                    double theta = (m[q, q] - m[p, p]) / (2 * m[p, q]);
                    double tan = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(tan * tan + 1), s = tan * c;
                    for (int k = 0; k < n; k++)
                    {
                        double mkp = m[k, p], mkq = m[k, q];
                        m[k, p] = c * mkp - s * mkq; m[k, q] = s * mkp + c * mkq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double mpk = m[p, k], mqk = m[q, k];
                        m[p, k] = c * mpk - s * mqk; m[q, k] = s * mpk + c * mqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq; v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        return (Enumerable.Range(0, n).Select(i => m[i, i]).ToArray(), v);
    }

    /// <summary>a · b for square matrices.</summary>
    public static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0);
        var c = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
            {
                double aik = a[i, k];
                for (int j = 0; j < n; j++) c[i, j] += aik * b[k, j];
            }
        return c;
    }
}
