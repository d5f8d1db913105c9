using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Model.Components;

// The attention's backward step, and the per-head pieces the circuits' edge-patched forward and edge attribution
// compose (each head's q, k and v from its own input copy).
public sealed partial class Attention
{
    private readonly Lock _backwardLock = new();
    private (PackedMatrix WQkvT, PackedMatrix WOT)? _backward;

    /// <summary>The activations <see cref="Backward"/> reads from the forward cache (with parameter gradients also
    /// the attention's input and hook_z).</summary>
    /// <param name="inputHook">the hook point of the attention's input (ln1.hook_normalized)</param>
    /// <param name="parameters">whether parameter gradients are wanted</param>
    internal IEnumerable<string> BackwardHooks(string inputHook, bool parameters)
    {
        string[] always = [HookNames.Q(_layer), HookNames.K(_layer), HookNames.V(_layer), HookNames.Pattern(_layer)];
        return parameters ? [.. always, HookNames.Z(_layer), inputHook] : always;
    }

    /// <summary>
    /// attn_out = Σ_h z_h·W_O[h] + b_O backwards through the attention core to the projection's input: dZ = dOut·W_Oᵀ,
    /// the core's gradient (<see cref="CoreBackward"/>) into d[q | k | v], then dX = d[q | k | v]·[W_Q | W_K | W_V]ᵀ.
    /// Reports hook_result (when kept), hook_z, hook_pattern, hook_q/k/v; accumulates W_O, b_O, W_Q/K/V, b_Q/K/V when wanted.
    /// </summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dOut">d/d hook_attn_out [batch, pos, d_model]</param>
    /// <param name="input">the attention's input [batch, pos, d_model] (the ln1 output), read only for W_Q/K/V's gradients</param>
    /// <returns>d/d the attention's input (ln1.hook_normalized) [batch, pos, d_model]</returns>
    internal Tensor Backward(BackwardPass pass, Tensor dOut, Func<Tensor> input)
    {
        var (wQkvT, wOT) = BackwardWeights();
        int batch = dOut.Dim(0), pos = dOut.Dim(1), rows = batch * pos, hd = _nHeads * _dHead;
        string prefix = $"blocks.{_layer}.attn.";
        if (pass.Keeps(HookNames.Result(_layer)))
            pass.Put(HookNames.Result(_layer), new Tensor(BroadcastHeads(dOut.Data, rows), batch, pos, _nHeads, _dModel));

        var dZ = Tensor.Zeros(batch, pos, _nHeads, _dHead);
        Gemm.Multiply(dOut.Data, wOT, dZ.Data, rows);                             // [rows, d] -> [rows, h·dh]
        pass.Put(HookNames.Z(_layer), dZ);
        if (pass.Parameter(prefix + "W_O", _nHeads, _dHead, _dModel) is { } dWO)
            BackwardPass.AddWeightGradient(pass.Require(HookNames.Z(_layer)).Data, dOut.Data, dWO.Data, rows);
        if (pass.Parameter(prefix + "b_O", _dModel) is { } dBO) BackwardPass.AddColumnSums(dOut.Data, dBO.Data);

        var dQkv = new float[rows * _qkv.Width];
        Tensor? dPattern = pass.Keeps(HookNames.Pattern(_layer)) ? Tensor.Zeros(batch, _nHeads, pos, pos) : null;
        CoreBackward(pass.Require(HookNames.Q(_layer)), pass.Require(HookNames.K(_layer)), pass.Require(HookNames.V(_layer)),
            pass.Require(HookNames.Pattern(_layer)), dZ.Data, dQkv, dPattern?.Data);
        if (dPattern is not null) pass.Put(HookNames.Pattern(_layer), dPattern);
        (string Hook, QkvPart Part)[] parts = [(HookNames.Q(_layer), QkvPart.Q), (HookNames.K(_layer), QkvPart.K), (HookNames.V(_layer), QkvPart.V)];
        foreach (var (hook, part) in parts)
            if (pass.Keeps(hook)) pass.Put(hook, _qkv.Split(dQkv, part, batch, pos));
        AccumulateProjectionGradients(pass, prefix, input, dQkv, rows);

        var dIn = Tensor.Zeros(batch, pos, _dModel);
        Gemm.Multiply(dQkv, wQkvT, dIn.Data, rows);                               // [rows, 3·h·dh] -> [rows, d]
        return dIn;
    }

    // W_Q/K/V [n_heads, d_model, d_head] and b_Q/K/V [n_heads, d_head] from d[q | k | v] [rows, 3·h·dh]: one fused
    // xᵀ·dQkv product, scattered into the per-head layout.
    private void AccumulateProjectionGradients(BackwardPass pass, string prefix, Func<Tensor> input, float[] dQkv, int rows)
    {
        int hd = _nHeads * _dHead, width = _qkv.Width;
        string[] parts = ["Q", "K", "V"];
        var weights = parts.Select(p => pass.Parameter(prefix + "W_" + p, _nHeads, _dModel, _dHead)).ToArray();
        var biases = parts.Select(p => pass.Parameter(prefix + "b_" + p, _nHeads, _dHead)).ToArray();
        if (weights.Any(w => w is not null))
        {
            var fused = new float[_dModel * width];
            BackwardPass.AddWeightGradient(input().Data, dQkv, fused, rows);
            for (int m = 0; m < 3; m++)
                if (weights[m] is { } acc)
                    for (int h = 0; h < _nHeads; h++)
                        for (int i = 0; i < _dModel; i++)
                        {
                            var dst = acc.Data.AsSpan((h * _dModel + i) * _dHead, _dHead);
                            TensorPrimitives.Add(dst, fused.AsSpan(i * width + m * hd + h * _dHead, _dHead), dst);
                        }
        }
        if (biases.Any(b => b is not null))
        {
            var sums = new float[width];
            BackwardPass.AddColumnSums(dQkv, sums);
            for (int m = 0; m < 3; m++)
                if (biases[m] is { } acc) TensorPrimitives.Add(acc.Data, sums.AsSpan(m * hd, hd), acc.Data);
        }
    }

    /// <summary>
    /// The causal attention core backwards, per (batch, head): z[i] = Σ_j pattern[i,j]·v[j]; pattern = softmax(q·kᵀ/√d_head).
    /// dPattern[i,j] = dz[i]·v[j] (every j, also above the diagonal, as a TransformerLens backward hook sees it);
    /// dV[j] = Σ_i pattern[i,j]·dz[i]; dScores[i,j] = pattern[i,j]·(dPattern[i,j] - Σ_j' pattern[i,j']·dPattern[i,j']);
    /// dQ[i] = Σ_j dScores[i,j]·k[j]/√d_head; dK[j] = Σ_i dScores[i,j]·q[i]/√d_head.
    /// </summary>
    /// <param name="q">hook_q [batch, pos, n_heads, d_head]</param>
    /// <param name="k">hook_k [batch, pos, n_heads, d_head]</param>
    /// <param name="v">hook_v [batch, pos, n_heads, d_head]</param>
    /// <param name="pattern">hook_pattern [batch, n_heads, pos, pos]</param>
    /// <param name="dZ">d/d hook_z [batch, pos, n_heads, d_head]</param>
    /// <param name="dQkv">[batch·pos, 3·n_heads·d_head], zeroed by the caller, accumulated: dQ | dK | dV per row (fused layout).</param>
    /// <param name="dPattern">[batch, n_heads, pos, pos], written, or null to skip.</param>
    private static void CoreBackward(Tensor q, Tensor k, Tensor v, Tensor pattern, float[] dZ, float[] dQkv, float[]? dPattern)
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
                for (int j = 0; j < pos; j++)
                    row[j] = TensorPrimitives.Dot(dz, v.Data.AsSpan(((b * pos + j) * nHeads + h) * dHead, dHead));
                if (dPattern is not null) row.AsSpan().CopyTo(dPattern.AsSpan(((b * nHeads + h) * pos + i) * pos, pos));
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
    private float[] BroadcastHeads(ReadOnlySpan<float> dOut, int rows)
    {
        var result = new float[rows * _nHeads * _dModel];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < _nHeads; h++)
                dOut.Slice(r * _dModel, _dModel).CopyTo(result.AsSpan((r * _nHeads + h) * _dModel));
        return result;
    }

    /// <summary>[W_Q | W_K | W_V]ᵀ and W_Oᵀ packed for the backward GEMMs, built on first use and kept until released.</summary>
    internal (PackedMatrix WQkvT, PackedMatrix WOT) BackwardWeights()
    {
        lock (_backwardLock)
            return _backward ??= (_qkv.PackTransposed(), PackedMatrix.Pack(_w.W_O.Data, _dModel, _nHeads * _dHead, transposed: true));
    }

    /// <summary>Whether the backward weights are held.</summary>
    internal bool HoldsBackwardWeights { get { lock (_backwardLock) return _backward is not null; } }

    /// <summary>Drops the backward weights; the next backward pass packs them again.</summary>
    internal void ReleaseBackwardWeights() { lock (_backwardLock) _backward = null; }

    /// <summary>One head's query, key or value from its own input: x·W[h] + b[h] (edge patching gives each head's q, k
    /// and v their own copy of the residual stream).</summary>
    /// <param name="x">the head's ln1.hook_normalized rows [rows, d_model]</param>
    /// <param name="part">query, key or value</param>
    /// <param name="head">the head</param>
    /// <param name="destination">[rows, d_head] written</param>
    internal void ProjectHead(ReadOnlySpan<float> x, QkvPart part, int head, Span<float> destination)
    {
        var (weight, bias) = Part(part);
        int rows = x.Length / _dModel;
        Gemm.Multiply(x, weight.Data.AsSpan(head * _dModel * _dHead, _dModel * _dHead), destination, rows, _dModel, _dHead);
        Kernels.AddBiasRows(destination[..(rows * _dHead)], bias.Data.AsSpan(head * _dHead, _dHead));
    }

    /// <summary>The gradient reaching one head's own input copy from its q, k or v: dX = dPart[:, h]·W[h]ᵀ.</summary>
    /// <param name="dPart">d/d hook_q, hook_k or hook_v [rows, n_heads, d_head]</param>
    /// <param name="part">which of the three</param>
    /// <param name="head">the head</param>
    /// <param name="scratch">[rows, d_head] scratch</param>
    /// <param name="destination">d/d the head's ln1.hook_normalized [rows, d_model], written</param>
    internal void HeadInputGradient(ReadOnlySpan<float> dPart, QkvPart part, int head, Span<float> scratch, Span<float> destination)
    {
        int rows = destination.Length / _dModel;
        for (int r = 0; r < rows; r++) dPart.Slice((r * _nHeads + head) * _dHead, _dHead).CopyTo(scratch.Slice(r * _dHead));
        // W[h] is [d_model, d_head]: the transposed operand [n, k].
        Gemm.Multiply(scratch[..(rows * _dHead)], Part(part).Weight.Data.AsSpan(head * _dModel * _dHead, _dModel * _dHead),
            destination, rows, _dHead, _dModel, transposeB: true);
    }

    /// <summary>hook_z [batch, pos, n_heads, d_head] from queries, keys and values computed outside the model (each head
    /// from its own input copy), with the same attention core as the forward.</summary>
    /// <param name="q">[batch, pos, n_heads, d_head]</param>
    /// <param name="k">[batch, pos, n_heads, d_head]</param>
    /// <param name="v">[batch, pos, n_heads, d_head]</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence.</param>
    internal float[] ZFromProjections(float[] q, float[] k, float[] v, int batch, int pos)
    {
        int nHeads = _nHeads, dHead = _dHead, stride = nHeads * dHead;
        var z = GC.AllocateUninitializedArray<float>(batch * pos * stride);
        float invSqrt = 1f / MathF.Sqrt(dHead);
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

    /// <summary>One head's output z_h·W_O[h] (hook_result[:, :, h], without b_O).</summary>
    /// <param name="z">hook_z [rows, n_heads, d_head]</param>
    /// <param name="head">the head</param>
    /// <param name="scratch">[rows, d_head] scratch</param>
    /// <param name="destination">[rows, d_model] written</param>
    internal void HeadResult(ReadOnlySpan<float> z, int head, Span<float> scratch, Span<float> destination)
    {
        int rows = destination.Length / _dModel;
        for (int r = 0; r < rows; r++) z.Slice((r * _nHeads + head) * _dHead, _dHead).CopyTo(scratch.Slice(r * _dHead));
        Gemm.Multiply(scratch[..(rows * _dHead)], _w.W_O.Data.AsSpan(head * _dHead * _dModel, _dHead * _dModel), destination, rows, _dHead, _dModel);
    }

    /// <summary>b_O [d_model], added once to attn_out (it belongs to no head).</summary>
    internal ReadOnlySpan<float> OutputBias => _w.b_O.Data;

    /// <summary>[n_heads·d_head, d_model]: row h·d_head + j is what one unit of z[h, j] adds to the residual stream (W_O).</summary>
    internal Tensor W_O => _w.W_O;

    private (Tensor Weight, Tensor Bias) Part(QkvPart part) => part switch
    {
        QkvPart.Q => (_w.W_Q, _w.b_Q),
        QkvPart.K => (_w.W_K, _w.b_K),
        _ => (_w.W_V, _w.b_V),
    };
}
