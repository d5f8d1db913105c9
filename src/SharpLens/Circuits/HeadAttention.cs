using SharpLens.Tensors;

namespace SharpLens.Circuits;

/// <summary>
/// The causal attention core for q, k, v computed outside the model (each head from its own input copy):
/// z[b, i, h] = Σ_{j ≤ i} softmax_j(q[b,i,h]·k[b,j,h]/√d_head)·v[b,j,h]. Same arithmetic as the model's attention.
/// </summary>
internal static class HeadAttention
{
    /// <summary>hook_z [batch, pos, n_heads, d_head] from q, k, v, each [batch, pos, n_heads, d_head].</summary>
    public static float[] Z(float[] q, float[] k, float[] v, int batch, int pos, int nHeads, int dHead)
    {
        var z = new float[batch * pos * nHeads * dHead];
        float invSqrt = 1f / MathF.Sqrt(dHead);
        ParallelRows.For(batch * nHeads, (long)batch * nHeads * pos * pos * dHead, (i0, i1) =>
        {
            var scores = new float[pos];
            for (int i = i0; i < i1; i++)
            {
                int b = i / nHeads, h = i % nHeads;
                for (int qi = 0; qi < pos; qi++)
                {
                    var qRow = q.AsSpan(((b * pos + qi) * nHeads + h) * dHead, dHead);
                    var s = scores.AsSpan(0, qi + 1);
                    for (int j = 0; j <= qi; j++)
                        s[j] = Kernels.DotShort(qRow, k.AsSpan(((b * pos + j) * nHeads + h) * dHead, dHead)) * invSqrt;
                    Kernels.SoftmaxRows(s, s.Length);
                    var zRow = z.AsSpan(((b * pos + qi) * nHeads + h) * dHead, dHead);
                    for (int j = 0; j <= qi; j++)
                        if (s[j] != 0f) Kernels.AxpyShort(s[j], v.AsSpan(((b * pos + j) * nHeads + h) * dHead, dHead), zRow);
                }
            }
        });
        return z;
    }
}
