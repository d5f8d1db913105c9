using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Model.Backward;

/// <summary>
/// Hand-derived backward passes of GPT-2's components, one function per component. Every function takes the
/// upstream gradient (d metric / d output) and the forward activations it needs, and returns or accumulates
/// d metric / d input. Shapes are row-major; "rows" = batch·pos.
/// </summary>
internal static class ComponentBackward
{
    /// <summary>
    /// TransformerLens LayerNorm: xc = x - mean(x); s = sqrt(mean(xc²) + eps) (hook_scale); n = xc / s;
    /// y = n·w + b (hook_normalized; w, b absent after fold_ln). The full gradient, including the path through s
    /// (what torch autograd gives):
    /// dn = dy·w; dS = -Σ dn·xc / s²; dxc = dn / s + dS·xc / (d·s); dx = dxc - mean(dxc).
    /// </summary>
    /// <param name="x">LayerNorm input [rows, d]</param>
    /// <param name="w">[d] or null (LNPre)</param>
    /// <param name="dY">d metric / d hook_normalized [rows, d]</param>
    /// <param name="dX">[rows, d]: the input gradient is ADDED here (residual stream accumulation).</param>
    /// <param name="dScale">[rows]: d metric / d hook_scale (written), or empty to skip.</param>
    /// <param name="eps">LayerNorm epsilon.</param>
    /// <param name="d">Row width.</param>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps, ReadOnlySpan<float> dY,
        Span<float> dX, Span<float> dScale, int d)
    {
        int rows = x.Length / d;
        var xc = new float[d];
        var dn = new float[d];
        for (int r = 0; r < rows; r++)
        {
            var src = x.Slice(r * d, d);
            var g = dY.Slice(r * d, d);
            float s = Kernels.CentreAndScale(src, xc, eps);
            if (w.IsEmpty) g.CopyTo(dn); else TensorPrimitives.Multiply(g, w, dn);
            float ds = -TensorPrimitives.Dot(dn, xc) / (s * s);
            if (!dScale.IsEmpty) dScale[r] = ds;
            // dxc = dn / s + ds·xc / (d·s), then remove its mean.
            TensorPrimitives.Multiply(dn, 1f / s, dn);
            TensorPrimitives.MultiplyAdd(xc, ds / (d * s), dn, dn);
            float m = TensorPrimitives.Sum(dn) / d;
            TensorPrimitives.Subtract(dn, m, dn);
            var dst = dX.Slice(r * d, d);
            TensorPrimitives.Add(dst, dn, dst);
        }
    }

    /// <summary>Linear layer y = x·W (+ b): dX = dY·Wᵀ with Wᵀ packed once.</summary>
    /// <param name="dY">[rows, n]</param>
    /// <param name="wT">Wᵀ packed as [n, k] (K = n, N = k)</param>
    /// <param name="dX">[rows, k], written (or added to when <paramref name="accumulate"/>)</param>
    /// <param name="accumulate">Add to the output instead of overwriting it.</param>
    /// <param name="rows">Number of rows of <paramref name="dY"/>.</param>
    public static void Linear(ReadOnlySpan<float> dY, PackedMatrix wT, Span<float> dX, int rows, bool accumulate = false)
        => Gemm.Multiply(dY, wT, dX, rows, accumulate);

    /// <summary>gelu_new: dPre = dPost · gelu_new'(pre).</summary>
    /// <param name="pre">mlp.hook_pre [rows, d_mlp]</param>
    /// <param name="dPost">d metric / d mlp.hook_post [rows, d_mlp]</param>
    /// <param name="dPre">[rows, d_mlp], written</param>
    public static void GeluNew(ReadOnlySpan<float> pre, ReadOnlySpan<float> dPost, Span<float> dPre)
    {
        for (int i = 0; i < pre.Length; i++) dPre[i] = dPost[i] * Kernels.GeluNewGrad(pre[i]);
    }

    /// <summary>
    /// Causal attention core, per (batch, head): z[i] = Σ_j pattern[i,j]·v[j]; pattern = softmax(q·kᵀ/√d_head).
    /// dPattern[i,j] = dz[i]·v[j] (every j, also above the diagonal, as a TransformerLens backward hook sees it);
    /// dV[j] = Σ_i pattern[i,j]·dz[i]; dScores[i,j] = pattern[i,j]·(dPattern[i,j] - Σ_j' pattern[i,j']·dPattern[i,j']);
    /// dQ[i] = Σ_j dScores[i,j]·k[j]/√d_head; dK[j] = Σ_i dScores[i,j]·q[i]/√d_head.
    /// </summary>
    /// <param name="q">hook_q [batch, pos, n_heads, d_head] (k, v likewise)</param>
    /// <param name="pattern">hook_pattern [batch, n_heads, pos, pos]</param>
    /// <param name="dZ">d metric / d hook_z [batch, pos, n_heads, d_head]</param>
    /// <param name="dQkv">[batch·pos, 3·n_heads·d_head], zeroed by the caller, accumulated: dQ | dK | dV per row (fused W_QKV layout).</param>
    /// <param name="dPattern">[batch, n_heads, pos, pos], written, or null to skip.</param>
    /// <param name="k">hook_k [batch, pos, n_heads, d_head]</param>
    /// <param name="v">hook_v [batch, pos, n_heads, d_head]</param>
    public static void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor pattern, float[] dZ,
        float[] dQkv, float[]? dPattern)
    {
        int batch = q.Dim(0), pos = q.Dim(1), nHeads = q.Dim(2), dHead = q.Dim(3), hd = nHeads * dHead;
        float invSqrt = 1f / MathF.Sqrt(dHead);

        // (batch, head) pairs write disjoint columns of dQkv and disjoint rows of dPattern, so they run in parallel.
        void Body(int b, int h, float[] row, float[] dsRow)
        {
            for (int i = 0; i < pos; i++)
            {
                int zi = ((b * pos + i) * nHeads + h) * dHead;
                var dz = dZ.AsSpan(zi, dHead);
                var p = pattern.Data.AsSpan(((b * nHeads + h) * pos + i) * pos, pos);
                // dPattern row over all keys.
                for (int j = 0; j < pos; j++)
                    row[j] = TensorPrimitives.Dot(dz, v.Data.AsSpan(((b * pos + j) * nHeads + h) * dHead, dHead));
                if (dPattern is not null) row.AsSpan().CopyTo(dPattern.AsSpan(((b * nHeads + h) * pos + i) * pos, pos));
                // dScores = p ⊙ (dP - Σ p·dP)
                float dot = TensorPrimitives.Dot(p, row);
                TensorPrimitives.Subtract(row, dot, dsRow);
                TensorPrimitives.Multiply(dsRow, p, dsRow);
                var dq = dQkv.AsSpan((b * pos + i) * 3 * hd + h * dHead, dHead);
                var qi = q.Data.AsSpan(zi, dHead);
                for (int j = 0; j <= i; j++)
                {
                    int rowJ = (b * pos + j) * 3 * hd;
                    if (p[j] != 0f)
                    {
                        var dvj = dQkv.AsSpan(rowJ + 2 * hd + h * dHead, dHead);
                        TensorPrimitives.MultiplyAdd(dz, p[j], dvj, dvj);
                    }
                    float s = dsRow[j] * invSqrt;
                    if (s != 0f)
                    {
                        TensorPrimitives.MultiplyAdd(k.Data.AsSpan(((b * pos + j) * nHeads + h) * dHead, dHead), s, dq, dq);
                        var dkj = dQkv.AsSpan(rowJ + hd + h * dHead, dHead);
                        TensorPrimitives.MultiplyAdd(qi, s, dkj, dkj);
                    }
                }
            }
        }

        int count = batch * nHeads;
        if ((long)count * pos * pos * dHead < 1 << 20)
        {
            var row = new float[pos]; var dsRow = new float[pos];
            for (int i = 0; i < count; i++) Body(i / nHeads, i % nHeads, row, dsRow);
        }
        else Parallel.For(0, count, i => Body(i / nHeads, i % nHeads, new float[pos], new float[pos]));
    }

    /// <summary>hook_result [rows, n_heads, d_model] = z_h·W_O[h]: every head's result gets the attn_out gradient.</summary>
    /// <param name="dAttnOut">[rows, d_model]</param>
    /// <param name="rows">Number of rows (batch·pos).</param>
    /// <param name="nHeads">Number of heads.</param>
    /// <param name="dModel">Residual width.</param>
    /// <returns>[rows, n_heads, d_model]</returns>
    public static float[] BroadcastHeads(ReadOnlySpan<float> dAttnOut, int rows, int nHeads, int dModel)
    {
        var result = new float[rows * nHeads * dModel];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < nHeads; h++)
                dAttnOut.Slice(r * dModel, dModel).CopyTo(result.AsSpan((r * nHeads + h) * dModel));
        return result;
    }
}
