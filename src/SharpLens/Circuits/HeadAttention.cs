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
        var z = GC.AllocateUninitializedArray<float>(batch * pos * nHeads * dHead);
        float invSqrt = 1f / MathF.Sqrt(dHead);
        int stride = nHeads * dHead;
        ParallelRows.For(batch * nHeads, (long)batch * nHeads * pos * pos * dHead, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                int head = (i / nHeads * pos * nHeads + i % nHeads) * dHead;
                CausalAttentionKernels.Attend(q.AsSpan(head), stride, pos, k.AsSpan(head), stride, v.AsSpan(head), stride, dHead,
                    0, 0, invSqrt, z.AsSpan(head), stride, VectorWidthSelector.Best);
            }
        });
        return z;
    }
}
