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
        var names = new List<string> { HookNames.Q(_layer), HookNames.K(_layer), HookNames.V(_layer), HookNames.Pattern(_layer) };
        if (_rotary is not null) names.AddRange([HookNames.RotQ(_layer), HookNames.RotK(_layer)]);
        else if (_qNorm is not null) names.AddRange([_qNorm.NormalizedHook, _kNorm!.NormalizedHook]);
        if (parameters) names.AddRange([HookNames.Z(_layer), inputHook]);
        return names;
    }

    /// <summary>
    /// attn_out = Σ_h z_h·W_O[h] + b_O backwards to the projection's input: dZ = dOut·W_Oᵀ, the core's gradient
    /// (<see cref="CoreBackward"/>) into d[q | k | v] of what the scores read, back through the rotation (its inverse)
    /// and q_norm / k_norm to hook_q / hook_k, then dX = d[q | k | v]·[W_Q | W_K | W_V]ᵀ. Reports hook_result (when kept),
    /// hook_z, hook_pattern, hook_rot_q/k, the q/k norms' hooks and hook_q/k/v; accumulates W_O, b_O, W_Q/K/V, b_Q/K/V
    /// and the q/k norm weights when wanted.
    /// </summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dOut">d/d hook_attn_out [batch, pos, d_model]</param>
    /// <param name="input">the attention's input [batch, pos, d_model] (the ln1 output), read only for W_Q/K/V's gradients</param>
    /// <returns>d/d the attention's input (ln1's output) [batch, pos, d_model]</returns>
    internal Tensor Backward(BackwardPass pass, Tensor dOut, Func<Tensor> input)
    {
        var (wQkvT, wOT) = BackwardWeights();
        int batch = dOut.Dim(0), pos = dOut.Dim(1), rows = batch * pos;
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
        CoreBackward(CoreInput(pass, QkvPart.Q), CoreInput(pass, QkvPart.K), pass.Require(HookNames.V(_layer)),
            pass.Require(HookNames.Pattern(_layer)), dZ.Data, dQkv, dPattern?.Data);
        if (dPattern is not null) pass.Put(HookNames.Pattern(_layer), dPattern);
        ScoreInputBackward(pass, QkvPart.Q, dQkv, batch, pos);
        ScoreInputBackward(pass, QkvPart.K, dQkv, batch, pos);
        (string Hook, QkvPart Part)[] parts = [(HookNames.Q(_layer), QkvPart.Q), (HookNames.K(_layer), QkvPart.K), (HookNames.V(_layer), QkvPart.V)];
        foreach (var (hook, part) in parts)
            if (pass.Keeps(hook)) pass.Put(hook, _qkv.Split(dQkv, part, batch, pos));
        AccumulateProjectionGradients(pass, prefix, input, dQkv, rows);

        var dIn = Tensor.Zeros(batch, pos, _dModel);
        Gemm.Multiply(dQkv, wQkvT, dIn.Data, rows);                               // [rows, Width] -> [rows, d]
        return dIn;
    }

    // What the scores read of the queries or keys, from the cache: hook_rot_q/k, or the q/k norm's output, or hook_q/k.
    private Tensor CoreInput(BackwardPass pass, QkvPart part)
    {
        var norm = part == QkvPart.Q ? _qNorm : _kNorm;
        if (_rotary is not null) return pass.Require(part == QkvPart.Q ? HookNames.RotQ(_layer) : HookNames.RotK(_layer));
        if (norm is not null) return norm.OutputOf(pass.Require(norm.NormalizedHook));
        return pass.Require(part == QkvPart.Q ? HookNames.Q(_layer) : HookNames.K(_layer));
    }

    // Turns the gradient of what the scores read (in dQkv's query or key part) into the gradient of hook_q / hook_k:
    // reports hook_rot_q/k, rotates back, then goes back through q_norm / k_norm (reporting its hooks, accumulating its w).
    private void ScoreInputBackward(BackwardPass pass, QkvPart part, float[] dQkv, int batch, int pos)
    {
        var norm = part == QkvPart.Q ? _qNorm : _kNorm;
        if (_rotary is null && norm is null) return;
        int heads = _qkv.PartHeads(part), past = 0;
        var d = _qkv.Split(dQkv, part, batch, pos);                                // [batch, pos, heads, d_head]
        if (_rotary is not null)
        {
            string hook = part == QkvPart.Q ? HookNames.RotQ(_layer) : HookNames.RotK(_layer);
            if (pass.Keeps(hook)) pass.Put(hook, d.Clone());
            _rotary.Rotate(d.Data, heads, _dHead, r => past + r % pos, inverse: true);
        }
        if (norm is not null)
        {
            var dInput = Tensor.Zeros(d.Shape);
            norm.Backward(pass, part == QkvPart.Q ? HookNames.Q(_layer) : HookNames.K(_layer), d, dInput);
            d = dInput;
        }
        _qkv.Merge(d.Data, part, dQkv);
    }

    // W_Q/K/V [heads, d_model, d_head] and b_Q/K/V [heads, d_head] from d[q | k | v] [rows, Width]: one fused
    // xᵀ·dQkv product, scattered into the per-head layout (TransformerLens' _W_K / _W_V names with grouped-query attention).
    private void AccumulateProjectionGradients(BackwardPass pass, string prefix, Func<Tensor> input, float[] dQkv, int rows)
    {
        int width = _qkv.Width;
        string kv = _kvHeads != _nHeads ? "_" : "";
        QkvPart[] parts = [QkvPart.Q, QkvPart.K, QkvPart.V];
        string[] names = ["Q", "K", "V"];
        string Name(string kind, int m) => prefix + (m == 0 ? "" : kv) + kind + names[m];
        var weights = parts.Select((p, m) => pass.Parameter(Name("W_", m), _qkv.PartHeads(p), _dModel, _dHead)).ToArray();
        var biases = parts.Select((p, m) => pass.Parameter(Name("b_", m), _qkv.PartHeads(p), _dHead)).ToArray();
        if (weights.Any(w => w is not null))
        {
            var fused = new float[_dModel * width];
            BackwardPass.AddWeightGradient(input().Data, dQkv, fused, rows);
            for (int m = 0; m < 3; m++)
                if (weights[m] is { } acc)
                {
                    int offset = _qkv.Offset(parts[m]);
                    for (int h = 0; h < _qkv.PartHeads(parts[m]); h++)
                        for (int i = 0; i < _dModel; i++)
                        {
                            var dst = acc.Data.AsSpan((h * _dModel + i) * _dHead, _dHead);
                            TensorPrimitives.Add(dst, fused.AsSpan(i * width + offset + h * _dHead, _dHead), dst);
                        }
                }
        }
        if (biases.Any(b => b is not null))
        {
            var sums = new float[width];
            BackwardPass.AddColumnSums(dQkv, sums);
            for (int m = 0; m < 3; m++)
                if (biases[m] is { } acc)
                    TensorPrimitives.Add(acc.Data, sums.AsSpan(_qkv.Offset(parts[m]), _qkv.PartWidth(parts[m])), acc.Data);
        }
    }

    /// <summary>
    /// The causal attention core backwards, per (batch, query head h reading key/value head h / group): z[i] = Σ_j
    /// pattern[i,j]·v[j]; pattern = softmax(q·kᵀ/√d_head). dPattern[i,j] = dz[i]·v[j] (every j, also above the diagonal,
    /// as a TransformerLens backward hook sees it); dV[j] += Σ_i pattern[i,j]·dz[i]; dScores[i,j] = pattern[i,j]·(dPattern[i,j]
    /// - Σ_j' pattern[i,j']·dPattern[i,j']); dQ[i] = Σ_j dScores[i,j]·k[j]/√d_head; dK[j] += Σ_i dScores[i,j]·q[i]/√d_head.
    /// Masked keys (the future, and outside a local window) have pattern 0 and so get nothing.
    /// </summary>
    /// <param name="q">what the scores read of the queries [batch, pos, n_heads, d_head]</param>
    /// <param name="k">what the scores read of the keys [batch, pos, n_key_value_heads, d_head]</param>
    /// <param name="v">hook_v [batch, pos, n_key_value_heads, d_head]</param>
    /// <param name="pattern">hook_pattern [batch, n_heads, pos, pos]</param>
    /// <param name="dZ">d/d hook_z [batch, pos, n_heads, d_head]</param>
    /// <param name="dQkv">[batch·pos, Width], zeroed by the caller, accumulated: dQ | dK | dV per row (fused layout).</param>
    /// <param name="dPattern">[batch, n_heads, pos, pos], written, or null to skip.</param>
    private void CoreBackward(Tensor q, Tensor k, Tensor v, Tensor pattern, float[] dZ, float[] dQkv, float[]? dPattern)
    {
        int batch = q.Dim(0), pos = q.Dim(1), nHeads = _nHeads, kvHeads = _kvHeads, dHead = _dHead, width = _qkv.Width;
        int kOffset = _qkv.Offset(QkvPart.K), vOffset = _qkv.Offset(QkvPart.V), group = _group;
        float invSqrt = 1f / MathF.Sqrt(dHead);

        // (batch, key/value head) pairs write disjoint columns of dQkv (the group's query heads and its one key and
        // value head) and disjoint rows of dPattern, so they run in parallel.
        void Body(int b, int g, float[] row, float[] dsRow)
        {
            for (int h = g * group; h < (g + 1) * group; h++)
                for (int i = 0; i < pos; i++)
                {
                    int zi = ((b * pos + i) * nHeads + h) * dHead;
                    var dz = dZ.AsSpan(zi, dHead);
                    var p = pattern.Data.AsSpan(((b * nHeads + h) * pos + i) * pos, pos);
                    // Only keys j ≤ i reach z[i] (the causal mask zeroes the pattern above the diagonal), so without
                    // dPattern to report the row stops at i: half the dot products. d_head-long vectors go through the
                    // short-vector kernels (TensorPrimitives' per-call overhead dominated this loop).
                    int visible = dPattern is null ? i + 1 : pos;
                    for (int j = 0; j < visible; j++)
                        row[j] = Kernels.DotShort(dz, v.Data.AsSpan(((b * pos + j) * kvHeads + g) * dHead, dHead));
                    if (dPattern is not null) row.AsSpan().CopyTo(dPattern.AsSpan(((b * nHeads + h) * pos + i) * pos, pos));
                    var pv = p[..visible];
                    float dot = TensorPrimitives.Dot(pv, row.AsSpan(0, visible));
                    TensorPrimitives.Subtract(row.AsSpan(0, visible), dot, dsRow.AsSpan(0, visible));
                    TensorPrimitives.Multiply(dsRow.AsSpan(0, visible), pv, dsRow.AsSpan(0, visible));
                    var dq = dQkv.AsSpan((b * pos + i) * width + h * dHead, dHead);
                    var qi = q.Data.AsSpan(zi, dHead);
                    for (int j = 0; j <= i; j++)
                    {
                        int rowJ = (b * pos + j) * width;
                        if (p[j] != 0f) Kernels.AxpyShort(p[j], dz, dQkv.AsSpan(rowJ + vOffset + g * dHead, dHead));
                        float s = dsRow[j] * invSqrt;
                        if (s != 0f)
                        {
                            Kernels.AxpyShort(s, k.Data.AsSpan(((b * pos + j) * kvHeads + g) * dHead, dHead), dq);
                            Kernels.AxpyShort(s, qi, dQkv.AsSpan(rowJ + kOffset + g * dHead, dHead));
                        }
                    }
                }
        }

        int count = batch * kvHeads;
        if ((long)count * group * pos * pos * dHead < 1 << 20)
        {
            var row = new float[pos]; var dsRow = new float[pos];
            for (int i = 0; i < count; i++) Body(i / kvHeads, i % kvHeads, row, dsRow);
        }
        else Parallel.For(0, count, i => Body(i / kvHeads, i % kvHeads, new float[pos], new float[pos]));
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

    /// <summary>The block's attention weights changed in place (a training step): packs the forward's fused Q/K/V and
    /// W_O, and the backward's transposed copies when held, again into their own storage (no allocation).</summary>
    internal void RepackWeights()
    {
        lock (_backwardLock)
        {
            _qkv.Repack(_backward?.WQkvT);
            _wO.Repack(_w.W_O.Data);
            _backward?.WOT.Repack(_w.W_O.Data, transposed: true);
        }
    }

    /// <summary>Drops the backward weights; the next backward pass packs them again.</summary>
    internal void ReleaseBackwardWeights() { lock (_backwardLock) _backward = null; }

    /// <summary>One head's query, key or value from its own input: x·W[h] + b[h] (edge patching gives each head's q, k
    /// and v their own copy of the residual stream).</summary>
    /// <param name="x">the head's ln1 output rows [rows, d_model]</param>
    /// <param name="part">query, key or value</param>
    /// <param name="head">the query head (keys and values use its key/value head, h / group)</param>
    /// <param name="destination">[rows, d_head] written</param>
    internal void ProjectHead(ReadOnlySpan<float> x, QkvPart part, int head, Span<float> destination)
    {
        var (weight, bias) = Part(part);
        int rows = x.Length / _dModel, h = part == QkvPart.Q ? head : head / _group;
        Gemm.Multiply(x, weight.Data.AsSpan(h * _dModel * _dHead, _dModel * _dHead), destination, rows, _dModel, _dHead);
        Kernels.AddBiasRows(destination[..(rows * _dHead)], bias.Data.AsSpan(h * _dHead, _dHead));
    }

    /// <summary>The gradient reaching one head's own input copy from its q, k or v: dX = dPart[:, h]·W[h]ᵀ.</summary>
    /// <param name="dPart">d/d hook_q, hook_k or hook_v [rows, heads of the part, d_head]</param>
    /// <param name="part">which of the three</param>
    /// <param name="head">the head of the part</param>
    /// <param name="scratch">[rows, d_head] scratch</param>
    /// <param name="destination">d/d the head's ln1 output [rows, d_model], written</param>
    internal void HeadInputGradient(ReadOnlySpan<float> dPart, QkvPart part, int head, Span<float> scratch, Span<float> destination)
    {
        int rows = destination.Length / _dModel, heads = _qkv.PartHeads(part);
        for (int r = 0; r < rows; r++) dPart.Slice((r * heads + head) * _dHead, _dHead).CopyTo(scratch.Slice(r * _dHead));
        // W[h] is [d_model, d_head]: the transposed operand [n, k].
        Gemm.Multiply(scratch[..(rows * _dHead)], Part(part).Weight.Data.AsSpan(head * _dModel * _dHead, _dModel * _dHead),
            destination, rows, _dHead, _dModel, transposeB: true);
    }

    /// <summary>hook_z [batch, pos, n_heads, d_head] from queries, keys and values computed outside the model, each query
    /// head with its own key and value (edge patching: TransformerLens' ungrouped grouped-query attention, so k and v have
    /// n_heads heads here), through the same q/k norm, rotation, window and attention core as the forward.</summary>
    /// <param name="q">hook_q [batch, pos, n_heads, d_head]</param>
    /// <param name="k">keys, one per query head [batch, pos, n_heads, d_head]</param>
    /// <param name="v">values, one per query head [batch, pos, n_heads, d_head]</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence (from 0).</param>
    internal float[] ZFromProjections(float[] q, float[] k, float[] v, int batch, int pos)
    {
        int nHeads = _nHeads, dHead = _dHead, stride = nHeads * dHead;
        q = PrepareUngrouped(q, _qNorm, batch, pos);
        k = PrepareUngrouped(k, _kNorm, batch, pos);
        var z = GC.AllocateUninitializedArray<float>(batch * pos * stride);
        float invSqrt = 1f / MathF.Sqrt(dHead);
        ParallelRows.For(batch * nHeads, (long)batch * nHeads * pos * pos * dHead, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                int head = (i / nHeads * pos * nHeads + i % nHeads) * dHead;
                CausalAttentionKernels.Attend(q.AsSpan(head), stride, pos, k.AsSpan(head), stride, v.AsSpan(head), stride, dHead,
                    0, _window ?? 0, invSqrt, z.AsSpan(head), stride, VectorWidthSelector.Best);
            }
        });
        return z;
    }

    // q or k with one entry per query head, through its norm and the rotation (positions from 0), as the scores read it.
    private float[] PrepareUngrouped(float[] x, Normalization? norm, int batch, int pos)
    {
        if (norm is null && _rotary is null) return x;
        var t = new Tensor(x, batch, pos, _nHeads, _dHead);
        var result = norm is null ? t.Clone() : norm.Forward(t, ForwardContext.None);
        _rotary?.Rotate(result.Data, _nHeads, _dHead, r => r % pos);
        return result.Data;
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
