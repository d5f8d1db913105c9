using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// Attention evaluated at one query row per sequence. Every row still contributes its key and value (later
/// queries may attend to it), but only the chosen row needs its query, its attention pattern, z and W_O: a
/// caller that reads only each sequence's final position (patching metrics) saves the Q and W_O GEMMs and the
/// softmax of all other rows. Same arithmetic as <see cref="Forward"/> for the rows it computes; runs no hooks.
/// </summary>
public sealed partial class Attention
{
    private PackedMatrix? _wQ, _wKv;

    /// <param name="x">ln1.hook_normalized [batch, pos, d_model]</param>
    /// <param name="queryRows">[batch] the row (0 ≤ row &lt; pos) whose output is wanted in each sequence.</param>
    /// <param name="kv">keys/values of positions [0, <paramref name="past"/>); this call's are written after them.
    /// Null only when <paramref name="past"/> is 0.</param>
    /// <param name="past">Positions already held in <paramref name="kv"/> (0 without a cache).</param>
    /// <returns>hook_attn_out at the query rows [batch, 1, d_model]</returns>
    internal Tensor ForwardQueryRows(Tensor x, int[] queryRows, KvCache? kv, int past)
    {
        int batch = x.Dim(0), pos = x.Dim(1), hd = _nHeads * _dHead, rows = batch * pos;
        var (wQ, wKv) = SplitWeights();

        // Keys and values of every row: [rows, 2·n_heads·d_head] (k | v).
        var kvRows = GC.AllocateUninitializedArray<float>(rows * 2 * hd);
        Gemm.Multiply(x.Data, wKv, kvRows, rows);
        Kernels.AddBiasRows(kvRows, _bQkv.AsSpan(hd));
        var k = GC.AllocateUninitializedArray<float>(rows * hd);
        var v = GC.AllocateUninitializedArray<float>(rows * hd);
        for (int r = 0; r < rows; r++)
        {
            kvRows.AsSpan(r * 2 * hd, hd).CopyTo(k.AsSpan(r * hd));
            kvRows.AsSpan(r * 2 * hd + hd, hd).CopyTo(v.AsSpan(r * hd));
        }

        // Queries of the chosen rows only: [batch, n_heads·d_head].
        var xq = GC.AllocateUninitializedArray<float>(batch * _dModel);
        for (int b = 0; b < batch; b++) x.Data.AsSpan((b * pos + queryRows[b]) * _dModel, _dModel).CopyTo(xq.AsSpan(b * _dModel));
        var q = GC.AllocateUninitializedArray<float>(batch * hd);
        Gemm.Multiply(xq, wQ, q, batch);
        Kernels.AddBiasRows(q, _bQkv.AsSpan(0, hd));
        return AttendQueryRows(q, k, v, batch, pos, queryRows, kv, past);
    }

    /// <summary><see cref="ForwardQueryRows(Tensor, int[], KvCache?, int)"/> from an already computed fused projection.</summary>
    /// <param name="qkv">x·W_{Q,K,V} + b [batch·pos, 3·n_heads·d_head]</param>
    /// <param name="past">Positions already held in <paramref name="kv"/> (0 without a cache).</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence.</param>
    /// <param name="queryRows">[batch] the row (0 ≤ row &lt; pos) whose output is wanted in each sequence.</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    internal Tensor ForwardQueryRows(float[] qkv, int batch, int pos, int[] queryRows, KvCache? kv, int past)
    {
        int hd = _nHeads * _dHead, rows = batch * pos;
        var k = GC.AllocateUninitializedArray<float>(rows * hd);
        var v = GC.AllocateUninitializedArray<float>(rows * hd);
        for (int r = 0; r < rows; r++)
        {
            qkv.AsSpan(r * 3 * hd + hd, hd).CopyTo(k.AsSpan(r * hd));
            qkv.AsSpan(r * 3 * hd + 2 * hd, hd).CopyTo(v.AsSpan(r * hd));
        }
        var q = GC.AllocateUninitializedArray<float>(batch * hd);
        for (int b = 0; b < batch; b++) qkv.AsSpan((b * pos + queryRows[b]) * 3 * hd, hd).CopyTo(q.AsSpan(b * hd));
        return AttendQueryRows(q, k, v, batch, pos, queryRows, kv, past);
    }

    /// <param name="q">queries of the query rows [batch, n_heads·d_head]</param>
    /// <param name="k">keys of every row [batch, pos, n_heads·d_head] (<paramref name="v"/> likewise)</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <param name="past">Positions already held in <paramref name="kv"/> (0 without a cache).</param>
    /// <param name="v">values [batch, pos, n_heads·d_head] of this call's positions.</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence.</param>
    /// <param name="queryRows">[batch] the row (0 ≤ row &lt; pos) whose output is wanted in each sequence.</param>
    /// <returns>hook_attn_out at the query rows [batch, 1, d_model]</returns>
    private Tensor AttendQueryRows(float[] q, float[] k, float[] v, int batch, int pos, int[] queryRows, KvCache? kv, int past)
    {
        int hd = _nHeads * _dHead;
        if (kv is null && past != 0) throw new ArgumentException("earlier positions need a KV cache", nameof(kv));
        float[] keys = k, values = v;
        int keyStride = pos;
        if (kv is not null)
        {
            kv.Write(_layer, past, pos, k, v);
            keys = kv.KeysArray(_layer); values = kv.ValuesArray(_layer); keyStride = kv.Capacity;
        }

        // pattern = softmax(q·kᵀ/√d_head) over the visible keys [0, past + row]; z = pattern·v: [batch, n_heads·d_head].
        var z = new float[batch * hd];
        float invSqrt = 1f / MathF.Sqrt(_dHead);
        var scores = new float[past + pos];
        for (int b = 0; b < batch; b++)
        {
            int visible = past + queryRows[b] + 1;
            var row = scores.AsSpan(0, visible);
            for (int h = 0; h < _nHeads; h++)
            {
                var qRow = q.AsSpan(b * hd + h * _dHead, _dHead);
                for (int j = 0; j < visible; j++)
                    row[j] = Kernels.DotShort(qRow, keys.AsSpan(((b * keyStride + j) * _nHeads + h) * _dHead, _dHead)) * invSqrt;
                Kernels.SoftmaxRows(row, visible);
                var zRow = z.AsSpan(b * hd + h * _dHead, _dHead);
                for (int j = 0; j < visible; j++)
                    if (row[j] != 0f)
                        Kernels.AxpyShort(row[j], values.AsSpan(((b * keyStride + j) * _nHeads + h) * _dHead, _dHead), zRow);
            }
        }

        var attnOut = Tensor.Uninitialized(batch, 1, _dModel);
        Gemm.Multiply(z, _wO, attnOut.Data, batch);
        Kernels.AddBiasRows(attnOut.Data, _w.b_O.Data);
        return attnOut;
    }

    /// <summary>W_Q [d_model, n_heads·d_head] and W_K | W_V [d_model, 2·n_heads·d_head], packed on first use.</summary>
    private (PackedMatrix Q, PackedMatrix Kv) SplitWeights()
    {
        if (_wQ is not null && _wKv is not null) return (_wQ, _wKv);
        int hd = _nHeads * _dHead;
        var q = new float[_dModel * hd];
        var kvw = new float[_dModel * 2 * hd];
        for (int h = 0; h < _nHeads; h++)
            for (int i = 0; i < _dModel; i++)
            {
                int src = (h * _dModel + i) * _dHead;
                _w.W_Q.Data.AsSpan(src, _dHead).CopyTo(q.AsSpan(i * hd + h * _dHead));
                _w.W_K.Data.AsSpan(src, _dHead).CopyTo(kvw.AsSpan(i * 2 * hd + h * _dHead));
                _w.W_V.Data.AsSpan(src, _dHead).CopyTo(kvw.AsSpan(i * 2 * hd + hd + h * _dHead));
            }
        var packedKv = PackedMatrix.Pack(kvw, _dModel, 2 * hd);
        _wQ = PackedMatrix.Pack(q, _dModel, hd);
        _wKv = packedKv;
        return (_wQ, _wKv);
    }
}
