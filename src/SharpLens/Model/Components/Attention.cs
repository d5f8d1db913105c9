using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// Causal self-attention: q, k, v = x·W_{Q,K,V} + b (hook_q/k/v); with <c>use_qk_norm</c> each query and key head goes
/// through an RMSNorm over d_head (attn.q_norm, attn.k_norm); with rotary positions q and k are rotated
/// (hook_rot_q/k); scores = q·kᵀ/√d_head with the future (and, in a local block, keys window_size or more positions
/// back) masked to -inf; pattern = softmax(scores); z = pattern·v; attn_out = Σ_h z_h·W_O[h] + b_O. With grouped-query
/// attention k and v have n_key_value_heads heads and query head h reads key/value head h / (n_heads / n_key_value_heads).
/// W_Q, W_K, W_V are fused (<see cref="FusedQkv"/>) so q, k and v take one GEMM. One attention core serves every
/// caller: the full forward is the query-rows evaluation with every row a query row. The backward step and the
/// per-head pieces the circuits' edge-patched forward composes live in <c>Attention.Backward.cs</c>.
/// </summary>
public sealed partial class Attention
{
    private readonly BlockWeights _w;
    private readonly int _layer, _nHeads, _kvHeads, _group, _dHead, _dModel;
    private readonly int? _window;
    private readonly FusedQkv _qkv;
    private readonly PackedMatrix _wO;
    private readonly RotaryEmbedding? _rotary;
    private readonly Normalization? _qNorm, _kNorm;

    /// <summary>Attention of block <paramref name="layer"/> of a model shaped by <paramref name="config"/> over its weights
    /// (W_Q [n_heads, d_model, d_head], W_K/W_V [n_key_value_heads, d_model, d_head], W_O [n_heads, d_head, d_model],
    /// their biases and, with use_qk_norm, q_norm/k_norm weights [d_head]).</summary>
    /// <param name="config">The model's configuration (heads, positions, qk norm, window).</param>
    /// <param name="w">The block's weights.</param>
    /// <param name="layer">The block's index (names its hook points).</param>
    /// <param name="rotary">The model's rotary embedding (shared by every block), or null for learned positions.</param>
    internal Attention(ModelConfig config, BlockWeights w, int layer, RotaryEmbedding? rotary)
    {
        _w = w; _layer = layer;
        _qkv = new FusedQkv(w);
        _nHeads = _qkv.NHeads; _kvHeads = _qkv.KvHeads; _group = _nHeads / _kvHeads; _dModel = _qkv.DModel; _dHead = _qkv.DHead;
        _wO = PackedMatrix.Pack(w.W_O.Data, _nHeads * _dHead, _dModel);
        _rotary = rotary;
        _window = config.WindowOf(layer);
        if (config.UseQkNorm)
        {
            string p = $"blocks.{layer}.attn.";
            _qNorm = new RmsNorm(p + "q_norm", layer, _dHead, w.QNormW, config.LayerNormEps, ["batch", "pos", "head_index"]);
            _kNorm = new RmsNorm(p + "k_norm", layer, _dHead, w.KNormW, config.LayerNormEps, ["batch", "pos", KvHeadAxis]);
        }
    }

    /// <summary>The block's weights.</summary>
    public BlockWeights Weights => _w;
    /// <summary>Query heads (n_heads).</summary>
    public int NHeads => _nHeads;
    /// <summary>Key/value heads (n_key_value_heads; n_heads without grouped-query attention).</summary>
    public int KeyValueHeads => _kvHeads;
    /// <summary>The window of a local block (a query sees keys fewer than this many positions back), or null.</summary>
    public int? Window => _window;
    /// <summary>attn.q_norm (use_qk_norm), or null.</summary>
    public Normalization? QNorm => _qNorm;
    /// <summary>attn.k_norm (use_qk_norm), or null.</summary>
    public Normalization? KNorm => _kNorm;
    /// <summary>Whether q and k are rotated by position.</summary>
    public bool Rotary => _rotary is not null;

    /// <summary>The fused Q/K/V projection of this block.</summary>
    internal FusedQkv Qkv => _qkv;

    /// <summary>The key/value head axis of hook_k/hook_v as TransformerLens names it: kv_head_index with grouped-query
    /// attention (its GroupedQueryAttention), head_index otherwise.</summary>
    private string KvHeadAxis => _kvHeads != _nHeads ? "kv_head_index" : "head_index";

    /// <summary>The attention's hook points, in forward order, with their shapes.</summary>
    internal IEnumerable<HookDeclaration> HookPoints()
    {
        string[] perHead = ["batch", "pos", "head_index", "d_head"], perKvHead = ["batch", "pos", KvHeadAxis, "d_head"];
        string[] pattern = ["batch", "head_index", "query_pos", "key_pos"];
        yield return new(HookNames.Q(_layer), _layer, perHead);
        yield return new(HookNames.K(_layer), _layer, perKvHead);
        yield return new(HookNames.V(_layer), _layer, perKvHead);
        foreach (var norm in new[] { _qNorm, _kNorm })
            if (norm is not null) foreach (var h in norm.HookPoints()) yield return h;
        if (_rotary is not null)
        {
            yield return new(HookNames.RotQ(_layer), _layer, perHead);
            yield return new(HookNames.RotK(_layer), _layer, perKvHead);
        }
        yield return new(HookNames.AttnScores(_layer), _layer, pattern);
        yield return new(HookNames.Pattern(_layer), _layer, pattern);
        yield return new(HookNames.Z(_layer), _layer, perHead);
        yield return new(HookNames.Result(_layer), _layer, ["batch", "pos", "head_index", "d_model"]);
    }

    /// <param name="x">ln1's output [batch, pos, d_model]</param>
    /// <param name="kv">keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>hook_attn_out [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx, KvCache? kv = null) => Forward(x, null, x.Dim(0), x.Dim(1), ctx, kv, null);

    /// <summary>
    /// The one attention forward. With <paramref name="queryRows"/>, every row still gives its key and value (later
    /// queries may attend to it) but only the chosen row of each sequence gets a query, a pattern, z and W_O, and no
    /// hook runs; otherwise every row is a query row and hooks run as usual.
    /// </summary>
    /// <param name="x">ln1's output [batch, pos, d_model], or null when <paramref name="qkv"/> is given</param>
    /// <param name="qkv">x·W_{Q,K,V} + b [batch·pos, (n_heads + 2·n_key_value_heads)·d_head] when the caller has it (ln1's hooks then do not run)</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence in this call.</param>
    /// <param name="ctx">The forward call's hooks and cache (must be <see cref="ForwardContext.None"/> with query rows).</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <param name="queryRows">[batch] the row (0 ≤ row &lt; pos) whose output is wanted in each sequence, or null for all.</param>
    /// <returns>hook_attn_out [batch, pos, d_model], or [batch, 1, d_model] at the query rows</returns>
    internal Tensor Forward(Tensor? x, float[]? qkv, int batch, int pos, ForwardContext ctx, KvCache? kv, int[]? queryRows)
    {
        int rows = batch * pos, past = kv?.Length ?? 0;
        if (x is null && qkv is null) throw new ArgumentException("attention needs its input or its Q/K/V projection");
        if (queryRows is null)
        {
            Tensor? projected = null;
            if (qkv is null)
            {
                projected = ctx.Allocate(rows, _qkv.Width);
                _qkv.Project(x!.Data, rows, projected.Data);
                qkv = projected.Data;
            }
            var q = ctx.Apply(HookNames.Q(_layer), _layer, _qkv.Split(qkv, QkvPart.Q, batch, pos, ctx.Allocate(batch, pos, _nHeads, _dHead)));
            var k = ctx.Apply(HookNames.K(_layer), _layer, _qkv.Split(qkv, QkvPart.K, batch, pos, ctx.Allocate(batch, pos, _kvHeads, _dHead)));
            var v = ctx.Apply(HookNames.V(_layer), _layer, _qkv.Split(qkv, QkvPart.V, batch, pos, ctx.Allocate(batch, pos, _kvHeads, _dHead)));
            if (projected is not null) ctx.Release(projected); // no hook point shows the fused projection
            // TransformerLens' order: q_norm and k_norm, then the rotations (hook_rot_q, hook_rot_k).
            var (qn, qNames) = Normed(q, QkvPart.Q, ctx);
            var (kn, kNames) = Normed(k, QkvPart.K, ctx);
            var (qc, qShown) = Rotated(qn, q, qNames, QkvPart.Q, ctx, r => past + r % pos);
            var (kc, kShown) = Rotated(kn, k, kNames, QkvPart.K, ctx, r => past + r % pos);
            var attnOut = Attend(qc.Data, kc.Data, v.Data, batch, pos, null, ctx, kv);
            if (!ReferenceEquals(qc, q)) ctx.Release(qc, qShown);
            if (!ReferenceEquals(kc, k)) ctx.Release(kc, kShown);
            ctx.Release(q, HookNames.Q(_layer));
            ctx.Release(k, HookNames.K(_layer));
            ctx.Release(v, HookNames.V(_layer));
            return attnOut;
        }

        if (queryRows.Length != batch) throw new ArgumentException($"{queryRows.Length} query rows for {batch} sequences", nameof(queryRows));
        var flatRows = new int[batch];
        for (int b = 0; b < batch; b++) flatRows[b] = b * pos + queryRows[b];
        float[] queries, keys, values;
        if (qkv is null)
        {
            (keys, values) = _qkv.ProjectKeysValues(x!.Data, rows);
            var xq = GC.AllocateUninitializedArray<float>(batch * _dModel);
            for (int b = 0; b < batch; b++) x.Data.AsSpan(flatRows[b] * _dModel, _dModel).CopyTo(xq.AsSpan(b * _dModel));
            queries = _qkv.ProjectQueries(xq, batch);
        }
        else
        {
            keys = GC.AllocateUninitializedArray<float>(rows * _qkv.KvWidth);
            values = GC.AllocateUninitializedArray<float>(rows * _qkv.KvWidth);
            queries = GC.AllocateUninitializedArray<float>(batch * _qkv.QueryWidth);
            _qkv.SplitRows(qkv, QkvPart.K, rows, null, keys);
            _qkv.SplitRows(qkv, QkvPart.V, rows, null, values);
            _qkv.SplitRows(qkv, QkvPart.Q, batch, flatRows, queries);
        }
        queries = ScoreInput(new Tensor(queries, batch, 1, _nHeads, _dHead), QkvPart.Q, b => past + queryRows[b]).Data;
        keys = ScoreInput(new Tensor(keys, batch, pos, _kvHeads, _dHead), QkvPart.K, r => past + r % pos).Data;
        return Attend(queries, keys, values, batch, pos, queryRows, ForwardContext.None, kv);
    }

    /// <summary>What the scores read of queries or keys outside a hooked pass: after q_norm / k_norm and the rotation.</summary>
    /// <param name="t">queries [rows..., n_heads, d_head] or keys [rows..., n_key_value_heads, d_head]</param>
    /// <param name="part">queries or keys</param>
    /// <param name="position">absolute position of each row (rows = every index of the leading axes)</param>
    private Tensor ScoreInput(Tensor t, QkvPart part, Func<int, int> position)
    {
        var (normed, names) = Normed(t, part, ForwardContext.None);
        return Rotated(normed, t, names, part, ForwardContext.None, position).Tensor;
    }

    /// <summary>hook_q or hook_k after q_norm / k_norm (with its hook points), or the tensor itself without them.</summary>
    /// <param name="t">hook_q [rows..., n_heads, d_head] or hook_k [rows..., n_key_value_heads, d_head]</param>
    /// <param name="part">queries or keys</param>
    /// <param name="ctx">the forward call</param>
    /// <returns>the normalized tensor and the hook names that have shown it</returns>
    private (Tensor Tensor, string[] ShownAs) Normed(Tensor t, QkvPart part, ForwardContext ctx)
    {
        var norm = part == QkvPart.Q ? _qNorm : _kNorm;
        if (norm is null) return (t, [part == QkvPart.Q ? HookNames.Q(_layer) : HookNames.K(_layer)]);
        return (norm.Forward(t, ctx), [norm.NormalizedHook]);
    }

    /// <summary>
    /// <paramref name="current"/> rotated by position (hook_rot_q / hook_rot_k), or itself without rotary positions.
    /// Never writes <paramref name="original"/> (the hook_q/k tensor); releases <paramref name="current"/> when it was
    /// a scratch the rotation copied.
    /// </summary>
    /// <param name="current">what <see cref="Normed"/> returned</param>
    /// <param name="original">hook_q or hook_k</param>
    /// <param name="shownAs">the hook names that have shown <paramref name="current"/></param>
    /// <param name="part">queries or keys</param>
    /// <param name="ctx">the forward call</param>
    /// <param name="position">absolute position of each row (rows = every index of the leading axes)</param>
    /// <returns>the tensor the scores read and the hook names that have shown it</returns>
    private (Tensor Tensor, string[] ShownAs) Rotated(Tensor current, Tensor original, string[] shownAs, QkvPart part, ForwardContext ctx, Func<int, int> position)
    {
        if (_rotary is null) return (current, shownAs);
        // Rotate in place only this call's own scratch (never the hook_q/k tensor itself nor one a hook keeps).
        bool inPlace = !ReferenceEquals(current, original) && ctx.Owns(current) && !shownAs.Any(ctx.MayKeep);
        var rotated = inPlace ? current : ctx.Allocate(current.Shape);
        if (!inPlace) current.Data.AsSpan().CopyTo(rotated.Data);
        _rotary.Rotate(rotated.Data, current.Dim(-2), _dHead, position);
        string hook = part == QkvPart.Q ? HookNames.RotQ(_layer) : HookNames.RotK(_layer);
        rotated = ctx.Apply(hook, _layer, rotated);
        if (!inPlace && !ReferenceEquals(current, original)) ctx.Release(current, shownAs);
        return (rotated, [hook]);
    }

    /// <summary>The attention core: scores, pattern, z and attn_out of the query rows.</summary>
    /// <param name="q">queries [batch, queries, n_heads·d_head]: queries = pos, or 1 with <paramref name="queryRows"/></param>
    /// <param name="k">keys of this call's positions [batch, pos, n_key_value_heads·d_head] (<paramref name="v"/> likewise)</param>
    /// <param name="v">values of this call's positions [batch, pos, n_key_value_heads·d_head]</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="pos">Positions per sequence in this call.</param>
    /// <param name="queryRows">[batch] each sequence's one query row, or null when every row is a query</param>
    /// <param name="ctx">The forward call's hooks and cache.</param>
    /// <param name="kv">Keys/values of earlier positions (and where this call's are stored), or null.</param>
    /// <returns>attn_out [batch, queries, d_model]</returns>
    private Tensor Attend(float[] q, float[] k, float[] v, int batch, int pos, int[]? queryRows, ForwardContext ctx, KvCache? kv)
    {
        int nq = queryRows is null ? pos : 1;
        // Keys and values span the cached prefix plus this call's positions.
        int past = kv?.Length ?? 0, total = past + pos;
        float[] keys = k, values = v;
        int keyStride = pos;
        if (kv is not null)
        {
            kv.Write(_layer, past, pos, k, v);
            keys = kv.KeysArray(_layer); values = kv.ValuesArray(_layer); keyStride = kv.Capacity;
        }

        float invSqrt = 1f / MathF.Sqrt(_dHead);
        int hd = _nHeads * _dHead, kvd = _kvHeads * _dHead, block = nq * total, window = _window ?? 0;
        string scoresHook = HookNames.AttnScores(_layer), patternHook = HookNames.Pattern(_layer);
        var z = ctx.Allocate(batch, nq, _nHeads, _dHead);
        if (!ctx.IsObserved(scoresHook) && !ctx.IsObserved(patternHook))
        {
            // Nobody reads the scores or the pattern: scores, softmax and mixing per block of query rows, without the
            // [batch, n_heads, queries, keys] tensors (402 MB per layer at 8 x 1,024 tokens). Same numbers as below.
            ForEachBatchHead(batch, nq * total * _dHead, (b, h) =>
                CausalAttentionKernels.Attend(q.AsSpan((b * nq * _nHeads + h) * _dHead), hd, nq,
                    keys.AsSpan((b * keyStride * _kvHeads + h / _group) * _dHead), kvd, values.AsSpan((b * keyStride * _kvHeads + h / _group) * _dHead), kvd,
                    _dHead, past + (queryRows?[b] ?? 0), window, invSqrt, z.Data.AsSpan((b * nq * _nHeads + h) * _dHead), hd, VectorWidthSelector.Best));
        }
        else
        {
            var scores = ctx.Allocate(batch, _nHeads, nq, total);
            ForEachBatchHead(batch, nq * total * _dHead, (b, h) =>
                CausalAttentionKernels.CausalScores(q.AsSpan((b * nq * _nHeads + h) * _dHead), hd, nq,
                    keys.AsSpan((b * keyStride * _kvHeads + h / _group) * _dHead), kvd, _dHead, past + (queryRows?[b] ?? 0), total, invSqrt,
                    scores.Data.AsSpan((b * _nHeads + h) * block, block), VectorWidthSelector.Best, window));
            Tensor pattern;
            if (ctx.IsObserved(scoresHook))
            {
                scores = ctx.Apply(scoresHook, _layer, scores);
                pattern = scores.Clone();
            }
            else pattern = scores;
            // A hook on the scores may have unmasked keys past the causal prefix: then every key enters the softmax.
            bool scoresHooked = ctx.HasHook(scoresHook);
            ParallelRows.For(batch * _nHeads, (long)pattern.Length * 4, (i0, i1) =>
            {
                for (int i = i0; i < i1; i++)
                {
                    var rows = pattern.Data.AsSpan(i * block, block);
                    if (scoresHooked) Kernels.SoftmaxRows(rows, total);
                    else CausalAttentionKernels.CausalSoftmax(rows, total, nq, past + (queryRows?[i / _nHeads] ?? 0), window);
                }
            });
            pattern = ctx.Apply(patternHook, _layer, pattern);

            // A hook on the scores or the pattern may have put weight past the causal prefix: then every key is mixed.
            bool allKeys = scoresHooked || ctx.HasHook(patternHook);
            ForEachBatchHead(batch, nq * total * _dHead, (b, h) =>
                CausalAttentionKernels.Mix(pattern.Data.AsSpan((b * _nHeads + h) * block, block), total, nq,
                    values.AsSpan((b * keyStride * _kvHeads + h / _group) * _dHead), kvd, _dHead, past + (queryRows?[b] ?? 0), allKeys,
                    z.Data.AsSpan((b * nq * _nHeads + h) * _dHead), hd, VectorWidthSelector.Best, window));
            if (!ReferenceEquals(scores, pattern)) ctx.Release(scores, scoresHook);
            ctx.Release(pattern, patternHook);
        }
        z = ctx.Apply(HookNames.Z(_layer), _layer, z);

        int outRows = batch * nq;
        var attnOut = ctx.Allocate(batch, nq, _dModel); // the GEMM overwrites it; the per-head sum below adds into it
        string resultHook = HookNames.Result(_layer);
        if (ctx.IsObserved(resultHook))
        {
            Array.Clear(attnOut.Data);
            var result = ctx.Apply(resultHook, _layer, PerHeadResult(z));
            for (int r = 0; r < outRows; r++)
                for (int h = 0; h < _nHeads; h++)
                    TensorPrimitives.Add(attnOut.Data.AsSpan(r * _dModel, _dModel),
                        result.Data.AsSpan((r * _nHeads + h) * _dModel, _dModel), attnOut.Data.AsSpan(r * _dModel, _dModel));
        }
        else Gemm.Multiply(z.Data, _wO, attnOut.Data, outRows);
        ctx.Release(z, HookNames.Z(_layer));
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
            HeadResult(z.Data, h, zHead, outHead);
            for (int r = 0; r < rows; r++)
                outHead.AsSpan(r * _dModel, _dModel).CopyTo(result.Data.AsSpan((r * _nHeads + h) * _dModel));
        }
        return result;
    }

    // Runs body(b, h) for every (batch, query head), split over both cores via the GEMM pool once there is enough
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
