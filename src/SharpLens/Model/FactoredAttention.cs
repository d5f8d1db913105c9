using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>
/// TransformerLens' <c>refactor_factored_attn_matrices</c>: re-factor each head's low-rank QK and OV
/// circuits so that both factors carry the same "energy" (FactoredMatrix.make_even). The products
/// W_Q_eff·W_K_effᵀ and W_V·W_O — hence the model's outputs — are unchanged; only the basis of the
/// d_head dimension moves, to the product's singular vectors, so that e.g. W_Q[h][:, i] and W_K[h][:, i]
/// pair up as the i-th singular direction.
/// </summary>
/// <remarks>
/// The d×d products are never formed. For a product L·Rᵀ with L [m, k] and R [n, k] (k = d_head ≤ m, n):
/// thin QR L = Q₁R₁, R = Q₂R₂ (Householder, double), so L·Rᵀ = Q₁·(R₁R₂ᵀ)·Q₂ᵀ; the k×k core's SVD
/// R₁R₂ᵀ = U_c·S·V_cᵀ (one-sided Jacobi, double) gives L·Rᵀ = (Q₁U_c)·S·(Q₂V_c)ᵀ and the even factors
/// A = Q₁U_c·√S, B = Q₂V_c·√S, with A·Bᵀ = L·Rᵀ and AᵀA = BᵀB = diag(S) (S descending).
/// Singular vectors are defined up to sign (and rotation within repeated singular values), so the
/// factors agree with TransformerLens' up to that, while every product and Gram matrix agrees exactly.
/// </remarks>
public static class FactoredAttention
{
    /// <summary>
    /// Even factors of L·Rᵀ. <paramref name="left"/> is [m, k], <paramref name="right"/> is [n, k],
    /// k ≤ m, n; returns A [m, k] and B [n, k] with A·Bᵀ = L·Rᵀ and AᵀA = BᵀB = diag(S), S [k] descending.
    /// </summary>
    public static (DoubleMatrix A, DoubleMatrix B, double[] S) MakeEven(DoubleMatrix left, DoubleMatrix right)
    {
        if (left.Cols != right.Cols)
            throw new ShapeMismatchException($"factors disagree on the inner dimension: {left.Rows}x{left.Cols} and {right.Rows}x{right.Cols}");
        if (left.Rows < left.Cols || right.Rows < right.Cols)
            throw new ShapeMismatchException($"inner dimension {left.Cols} exceeds an outer one ({left.Rows}, {right.Rows}): the factors would change shape");
        var ql = SmallLinearAlgebra.Qr(left);
        var qr = SmallLinearAlgebra.Qr(right);
        var core = ql.R * qr.R.Transpose();                       // [k, k]
        var svd = SmallLinearAlgebra.Svd(core);
        var sqrtS = svd.S.Select(Math.Sqrt).ToArray();
        ScaleColumns(svd.U, sqrtS);                               // U_c·√S
        ScaleColumns(svd.V, sqrtS);                               // V_c·√S
        return (ql.MultiplyQ(svd.U), qr.MultiplyQ(svd.V), svd.S);
    }

    /// <summary>
    /// Applies the refactor to every block in place (TransformerLens applies it last in process_weights).
    /// QK: W_Q_eff = [W_Q; b_Q] [h, d_model+1, d_head] (b_Q as an extra input row, the residual's
    /// constant-1 coordinate), likewise W_K_eff; make W_Q_eff·W_K_effᵀ even and write W_Q, b_Q, W_K, b_K
    /// back from the rows. OV: b_O += Σ_h b_V[h]·W_O[h], b_V = 0; make W_V·W_O even and write W_V, W_O.
    /// </summary>
    public static void Refactor(TransformerWeights w)
    {
        foreach (var (block, l) in w.Blocks.Select((b, l) => (b, l)))
        {
            int heads = block.W_Q.Dim(0), d = block.W_Q.Dim(1), dh = block.W_Q.Dim(2);
            string at = $"blocks.{l}.attn";
            block.W_Q.RequireShape($"{at}.W_Q", heads, d, dh);
            block.W_K.RequireShape($"{at}.W_K", heads, d, dh);
            block.W_V.RequireShape($"{at}.W_V", heads, d, dh);
            block.b_Q.RequireShape($"{at}.b_Q", heads, dh);
            block.b_K.RequireShape($"{at}.b_K", heads, dh);
            block.b_V.RequireShape($"{at}.b_V", heads, dh);
            block.W_O.RequireShape($"{at}.W_O", heads, dh, d);
            block.b_O.RequireShape($"{at}.b_O", d);
            if (dh > d) throw new ShapeMismatchException($"{at}: d_head {dh} > d_model {d}: the factors cannot be refactored in place");
            foreach (var t in new[] { block.W_Q, block.W_K, block.W_V, block.W_O, block.b_Q, block.b_K, block.b_V, block.b_O })
                foreach (float x in t.Data)
                    if (!float.IsFinite(x)) throw new ArgumentException($"{at}: a weight is NaN or infinite");

            // OV bias first (TransformerLens' order): the value bias becomes part of b_O.
            WeightProcessing.FoldValueBiases(block);

            Parallel.For(0, heads, h =>
            {
                // QK with biases: rows 0..d-1 are W[h], row d is b[h].
                var (q, k, _) = MakeEven(ReadHead(block.W_Q, block.b_Q, h), ReadHead(block.W_K, block.b_K, h));
                WriteHead(q, block.W_Q, block.b_Q, h);
                WriteHead(k, block.W_K, block.b_K, h);

                // OV: W_V[h] [d, dh] and W_O[h]ᵀ [d, dh].
                var (v, o, _) = MakeEven(ReadHead(block.W_V, null, h), ReadTransposed(block.W_O, h));
                WriteHead(v, block.W_V, null, h);
                WriteTransposed(o, block.W_O, h);
            });
        }
    }

    // [d (+1 with bias), dh] from weight[h] [d, dh] and bias[h] [dh] as the last row.
    private static DoubleMatrix ReadHead(Tensor weight, Tensor? bias, int h)
    {
        int d = weight.Dim(1), dh = weight.Dim(2);
        var m = new DoubleMatrix(bias is null ? d : d + 1, dh);
        var src = weight.Slice(h);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < dh; j++) m[i, j] = src[i * dh + j];
        if (bias is not null)
            for (int j = 0; j < dh; j++) m[d, j] = bias.Data[h * dh + j];
        return m;
    }

    private static void WriteHead(DoubleMatrix m, Tensor weight, Tensor? bias, int h)
    {
        int d = weight.Dim(1), dh = weight.Dim(2);
        var dst = weight.Slice(h);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < dh; j++) dst[i * dh + j] = (float)m[i, j];
        if (bias is not null)
            for (int j = 0; j < dh; j++) bias.Data[h * dh + j] = (float)m[d, j];
    }

    // W_O[h]ᵀ: [d, dh] from W_O[h] [dh, d].
    private static DoubleMatrix ReadTransposed(Tensor wO, int h)
    {
        int dh = wO.Dim(1), d = wO.Dim(2);
        var m = new DoubleMatrix(d, dh);
        var src = wO.Slice(h);
        for (int j = 0; j < dh; j++)
            for (int i = 0; i < d; i++) m[i, j] = src[j * d + i];
        return m;
    }

    private static void WriteTransposed(DoubleMatrix m, Tensor wO, int h)
    {
        int dh = wO.Dim(1), d = wO.Dim(2);
        var dst = wO.Slice(h);
        for (int j = 0; j < dh; j++)
            for (int i = 0; i < d; i++) dst[j * d + i] = (float)m[i, j];
    }

    private static void ScaleColumns(DoubleMatrix m, double[] scale)
    {
        for (int j = 0; j < m.Cols; j++)
            System.Numerics.Tensors.TensorPrimitives.Multiply(m.Column(j), scale[j], m.Column(j));
    }
}
