using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// The block evaluated at one query row per sequence (see <see cref="Attention.ForwardQueryRows(Tensor, int[], KvCache, int)"/>): all rows
/// give their keys and values, only the chosen rows go through attention, ln2 and the MLP. Used for a model's last
/// block when only the final positions are read. Runs no hooks.
/// </summary>
public sealed partial class TransformerBlock
{
    /// <param name="residPre">[batch, pos, d_model]</param>
    /// <param name="queryRows">[batch] row whose output is wanted in each sequence.</param>
    /// <param name="kv">keys/values of positions [0, <paramref name="past"/>) (null when past is 0).</param>
    /// <param name="past">Positions already held in <paramref name="kv"/> (0 without a cache).</param>
    /// <returns>hook_resid_post at the query rows [batch, 1, d_model]</returns>
    /// <param name="qkv">ln1(residPre)·W_{Q,K,V} + b [batch·pos, 3·n_heads·d_head] when the caller has it, else null.</param>
    internal Tensor ForwardQueryRows(Tensor residPre, int[] queryRows, KvCache? kv, int past, float[]? qkv = null)
    {
        int batch = residPre.Dim(0), pos = residPre.Dim(1), d = residPre.Dim(2);
        var attnOut = qkv is null
            ? Attn.ForwardQueryRows(Ln1.Forward(residPre, ForwardContext.None), queryRows, kv, past)
            : Attn.ForwardQueryRows(qkv, batch, pos, queryRows, kv, past);
        var residMid = Tensor.Uninitialized(batch, 1, d);
        for (int b = 0; b < batch; b++)
            System.Numerics.Tensors.TensorPrimitives.Add(residPre.Data.AsSpan((b * pos + queryRows[b]) * d, d),
                attnOut.Data.AsSpan(b * d, d), residMid.Data.AsSpan(b * d, d));
        var mlpOut = Mlp.Forward(Ln2.Forward(residMid, ForwardContext.None), ForwardContext.None);
        return Add(residMid, mlpOut);
    }
}
