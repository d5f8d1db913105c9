using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// Causal multi-head self-attention. q, k, v = x·W_{Q,K,V} + b; scores = q·kᵀ/√d_head (future masked to -inf);
/// pattern = softmax(scores); z = pattern·v; attn_out = Σ_h z_h·W_O[h] + b_O.
/// W_Q, W_K, W_V are fused into one packed [d_model, 3·n_heads·d_head] matrix so q, k and v take one GEMM.
/// </summary>
public sealed partial class Attention
{
    private readonly BlockWeights _w;
    private readonly int _layer, _nHeads, _dHead, _dModel;
    private readonly PackedMatrix _wQkv, _wO;
    private readonly float[] _bQkv;

    public Attention(BlockWeights w, int layer)
    {
        _w = w; _layer = layer;
        _nHeads = w.W_Q.Dim(0); _dModel = w.W_Q.Dim(1); _dHead = w.W_Q.Dim(2);
        int hd = _nHeads * _dHead;
        var fused = new float[_dModel * 3 * hd];
        Tensor[] mats = [w.W_Q, w.W_K, w.W_V];
        for (int m = 0; m < 3; m++)
            for (int h = 0; h < _nHeads; h++)
                for (int i = 0; i < _dModel; i++)
                    mats[m].Data.AsSpan((h * _dModel + i) * _dHead, _dHead)
                        .CopyTo(fused.AsSpan(i * 3 * hd + m * hd + h * _dHead, _dHead));
        _wQkv = PackedMatrix.Pack(fused, _dModel, 3 * hd);
        _bQkv = [.. w.b_Q.Data, .. w.b_K.Data, .. w.b_V.Data];
        _wO = PackedMatrix.Pack(w.W_O.Data, hd, _dModel);
    }

    public BlockWeights Weights => _w;

    /// <param name="x">ln1.hook_normalized [batch, pos, d_model]</param>
    /// <param name="kv">keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>hook_attn_out [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx, KvCache? kv = null)
    {
        int batch = x.Dim(0), pos = x.Dim(1);
        var qkv = ProjectQkv(x.Data, batch * pos);
        ParallelRows.AddBiasRows(qkv, _bQkv);
        return ForwardFromQkv(qkv, batch, pos, ctx, kv);
    }

    /// <summary>x·[W_Q | W_K | W_V] without bias: [rows, 3·n_heads·d_head] (heads inside each third).</summary>
    /// <param name="x">[rows, d_model]</param>
    /// <param name="rows">Number of rows of the input (batch·pos).</param>
    internal float[] ProjectQkv(ReadOnlySpan<float> x, int rows)
    {
        var qkv = GC.AllocateUninitializedArray<float>(rows * 3 * _nHeads * _dHead);
        Gemm.Multiply(x, _wQkv, qkv, rows);
        return qkv;
    }

    /// <summary>[b_Q | b_K | b_V]: [3·n_heads·d_head]</summary>
    internal ReadOnlySpan<float> QkvBias => _bQkv;

    /// <summary>The rest of <see cref="Forward"/> from its fused projection.</summary>
    /// <param name="qkv">x·W_{Q,K,V} + b [batch·pos, 3·n_heads·d_head]</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence.</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    internal Tensor ForwardFromQkv(float[] qkv, int batch, int pos, ForwardContext ctx, KvCache? kv)
    {
        int rows = batch * pos;
        var q = Split(qkv, 0, batch, pos);
        var k = Split(qkv, 1, batch, pos);
        var v = Split(qkv, 2, batch, pos);
        q = ctx.Apply(HookNames.Q(_layer), _layer, q);
        k = ctx.Apply(HookNames.K(_layer), _layer, k);
        v = ctx.Apply(HookNames.V(_layer), _layer, v);

        // Keys and values span the cached prefix plus this call's positions.
        int past = kv?.Length ?? 0, total = past + pos;
        float[] keys = k.Data, values = v.Data;
        int keyStride = pos;
        if (kv is not null)
        {
            kv.Write(_layer, past, pos, k.Data, v.Data);
            keys = kv.KeysArray(_layer); values = kv.ValuesArray(_layer); keyStride = kv.Capacity;
        }

        var scores = Tensor.Uninitialized(batch, _nHeads, pos, total);
        float invSqrt = 1f / MathF.Sqrt(_dHead);
        ForEachBatchHead(batch, pos * total * _dHead, (b, h) =>
        {
            for (int i = 0; i < pos; i++)
            {
                var qRow = q.Data.AsSpan(((b * pos + i) * _nHeads + h) * _dHead, _dHead);
                var sRow = scores.Data.AsSpan(((b * _nHeads + h) * pos + i) * total, total);
                int visible = past + i;
                for (int j = 0; j <= visible; j++)
                    sRow[j] = Kernels.DotShort(qRow, keys.AsSpan(((b * keyStride + j) * _nHeads + h) * _dHead, _dHead)) * invSqrt;
                sRow[(visible + 1)..].Fill(float.NegativeInfinity);
            }
        });
        string scoresHook = HookNames.AttnScores(_layer);
        Tensor pattern;
        if (ctx.IsObserved(scoresHook))
        {
            scores = ctx.Apply(scoresHook, _layer, scores);
            pattern = scores.Clone();
        }
        else pattern = scores;
        Kernels.SoftmaxRows(pattern.Data, total);
        pattern = ctx.Apply(HookNames.Pattern(_layer), _layer, pattern);

        var z = Tensor.Zeros(batch, pos, _nHeads, _dHead);
        ForEachBatchHead(batch, pos * total * _dHead, (b, h) =>
        {
            for (int i = 0; i < pos; i++)
            {
                var zRow = z.Data.AsSpan(((b * pos + i) * _nHeads + h) * _dHead, _dHead);
                var pRow = pattern.Data.AsSpan(((b * _nHeads + h) * pos + i) * total, total);
                for (int j = 0; j < total; j++)
                    if (pRow[j] != 0f)
                        Kernels.AxpyShort(pRow[j], values.AsSpan(((b * keyStride + j) * _nHeads + h) * _dHead, _dHead), zRow);
            }
        });
        z = ctx.Apply(HookNames.Z(_layer), _layer, z);

        var attnOut = Tensor.Zeros(batch, pos, _dModel);
        string resultHook = HookNames.Result(_layer);
        if (ctx.IsObserved(resultHook))
        {
            var result = ctx.Apply(resultHook, _layer, PerHeadResult(z));
            for (int r = 0; r < rows; r++)
                for (int h = 0; h < _nHeads; h++)
                    TensorPrimitives.Add(attnOut.Data.AsSpan(r * _dModel, _dModel),
                        result.Data.AsSpan((r * _nHeads + h) * _dModel, _dModel), attnOut.Data.AsSpan(r * _dModel, _dModel));
        }
        else Gemm.Multiply(z.Data, _wO, attnOut.Data, rows);
        Kernels.AddBiasRows(attnOut.Data, _w.b_O.Data);
        return attnOut;
    }

    /// <summary>hook_result: each head's output z_h·W_O[h], without b_O.</summary>
    /// <param name="z">[batch, pos, n_heads, d_head]</param>
    /// <returns>[batch, pos, n_heads, d_model]</returns>
    public Tensor PerHeadResult(Tensor z)
    {
        int rows = z.Dim(0) * z.Dim(1);
        var result = Tensor.Zeros(z.Dim(0), z.Dim(1), _nHeads, _dModel);
        var zHead = new float[rows * _dHead];
        var outHead = new float[rows * _dModel];
        for (int h = 0; h < _nHeads; h++)
        {
            for (int r = 0; r < rows; r++)
                z.Data.AsSpan((r * _nHeads + h) * _dHead, _dHead).CopyTo(zHead.AsSpan(r * _dHead));
            Gemm.Multiply(zHead, _w.W_O.Data.AsSpan(h * _dHead * _dModel, _dHead * _dModel), outHead, rows, _dHead, _dModel);
            for (int r = 0; r < rows; r++)
                outHead.AsSpan(r * _dModel, _dModel).CopyTo(result.Data.AsSpan((r * _nHeads + h) * _dModel));
        }
        return result;
    }

    private Tensor Split(float[] qkv, int which, int batch, int pos)
    {
        int hd = _nHeads * _dHead;
        var t = Tensor.Uninitialized(batch, pos, _nHeads, _dHead);
        for (int r = 0; r < batch * pos; r++)
            qkv.AsSpan(r * 3 * hd + which * hd, hd).CopyTo(t.Data.AsSpan(r * hd));
        return t;
    }

    // Runs body(b, h) for every (batch, head), split over both cores via the GEMM pool once there is enough
    // work (at 8 x 8 tokens a serial loop left a core idle between GEMMs; Parallel.For was unreliable here).
    private void ForEachBatchHead(int batch, long workPerHead, Action<int, int> body)
    {
        int count = batch * _nHeads;
        ParallelRows.For(count, workPerHead * count, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++) body(i / _nHeads, i % _nHeads);
        });
    }
}
