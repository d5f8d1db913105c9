using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Model.Components;

/// <summary>
/// The MLP. Plain: pre = x·W_in + b_in (mlp.hook_pre); post = act(pre) (mlp.hook_post). Gated (TransformerLens'
/// GatedMLP: Llama, Mistral, Qwen): pre = x·W_gate (hook_pre), pre_linear = x·W_in (hook_pre_linear), post =
/// act(pre)·pre_linear + b_in (hook_post). Either way mlp_out = post·W_out + b_out, and hook_post holds the neurons.
/// </summary>
public sealed class Mlp
{
    private readonly BlockWeights _w;
    private readonly int _layer, _dModel, _dMlp;
    private readonly Activation _act;
    private readonly PackedMatrix _wIn, _wOut;
    private readonly PackedMatrix? _wGate;
    private readonly Tensor _wInT, _bIn, _wOutT, _bOut;
    private readonly Lock _backwardLock = new();
    private (PackedMatrix WInT, PackedMatrix WOutT, PackedMatrix? WGateT)? _backward;

    /// <summary>The MLP of block <paramref name="layer"/> with activation <paramref name="actFn"/>, its weights packed
    /// once for the GEMM (W_gate too when the block's weights have one: a gated MLP).</summary>
    /// <param name="w">The block's weights (W_in, b_in, W_out, b_out and, gated, W_gate).</param>
    /// <param name="layer">The block's index.</param>
    /// <param name="actFn">TransformerLens' act_fn name.</param>
    public Mlp(BlockWeights w, int layer, string actFn)
    {
        _w = w; _layer = layer;
        _wInT = w.W_in ?? throw new InvalidCheckpointException($"block {layer} has no MLP weights (attn_only model)");
        _bIn = w.b_in!; _wOutT = w.W_out!; _bOut = w.b_out!;
        _dModel = _wInT.Dim(0); _dMlp = _wInT.Dim(1);
        _act = new Activation(actFn);
        _wIn = PackedMatrix.Pack(_wInT.Data, _dModel, _dMlp);
        _wOut = PackedMatrix.Pack(_wOutT.Data, _dMlp, _dModel);
        if (w.W_gate is { } gate) _wGate = PackedMatrix.Pack(gate.Data, _dModel, _dMlp);
        PreHook = HookNames.MlpPre(layer);
        PreLinearHook = HookNames.MlpPreLinear(layer);
        PostHook = HookNames.MlpPost(layer);
    }

    /// <summary>Whether this is a gated MLP.</summary>
    public bool Gated => _wGate is not null;
    /// <summary>The activation's TransformerLens name.</summary>
    public string ActFn => _act.Name;
    /// <summary>blocks.L.mlp.hook_pre [batch, pos, d_mlp] (gated: the gate x·W_gate).</summary>
    public string PreHook { get; }
    /// <summary>blocks.L.mlp.hook_pre_linear [batch, pos, d_mlp] (gated MLPs only).</summary>
    public string PreLinearHook { get; }
    /// <summary>blocks.L.mlp.hook_post [batch, pos, d_mlp]: the neuron activations.</summary>
    public string PostHook { get; }
    /// <summary>[d_mlp, d_model]: row n is what one unit of neuron n adds to the residual stream.</summary>
    public Tensor W_out => _wOutT;

    /// <summary>The MLP's hook points, in forward order, with their shapes.</summary>
    internal IEnumerable<HookDeclaration> HookPoints()
    {
        yield return new(PreHook, _layer, ["batch", "pos", "d_mlp"]);
        if (Gated) yield return new(PreLinearHook, _layer, ["batch", "pos", "d_mlp"]);
        yield return new(PostHook, _layer, ["batch", "pos", "d_mlp"]);
    }

    /// <param name="x">ln2's output [batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>hook_mlp_out [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx)
    {
        var post = Hidden(x, ctx, stopAfterPre: false);
        var output = Output(post, ctx);
        ctx.Release(post, PostHook);
        return output;
    }

    /// <summary>The neuron activations, with their hooks: pre, then (unless <paramref name="stopAfterPre"/>) pre_linear
    /// (gated) and post.</summary>
    /// <param name="x">ln2's output [batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <param name="stopAfterPre">Return hook_pre (a pass that stops there).</param>
    /// <returns>hook_post [batch, pos, d_mlp] (hook_pre with <paramref name="stopAfterPre"/>)</returns>
    internal Tensor Hidden(Tensor x, ForwardContext ctx, bool stopAfterPre)
    {
        int batch = x.Dim(0), pos = x.Dim(1), rows = batch * pos, dMlp = _dMlp;
        var pre = ctx.Allocate(batch, pos, dMlp);
        Gemm.Multiply(x.Data, _wGate ?? _wIn, pre.Data, rows);
        if (!Gated) ParallelRows.AddBiasRows(pre.Data, _bIn.Data);
        pre = ctx.Apply(PreHook, _layer, pre);
        if (stopAfterPre) return pre;
        Tensor? linear = null;
        if (Gated)
        {
            linear = ctx.Allocate(batch, pos, dMlp);
            Gemm.Multiply(x.Data, _wIn, linear.Data, rows);
            linear = ctx.Apply(PreLinearHook, _layer, linear);
        }
        // The activation in place when nobody can hold hook_pre: the pass then touches one [rows, d_mlp] buffer, not two.
        bool inPlace = ctx.IsScratch(pre, PreHook);
        var post = inPlace ? pre : ctx.Allocate(batch, pos, dMlp);
        ParallelRows.For(rows, (long)rows * dMlp * 8, (r0, r1) => // GELU is ~20 flops an element: split it too
        {
            var dst = post.Data.AsSpan(r0 * dMlp, (r1 - r0) * dMlp);
            _act.Apply(pre.Data.AsSpan(r0 * dMlp, (r1 - r0) * dMlp), dst);
            if (linear is null) return;
            TensorPrimitives.Multiply(dst, linear.Data.AsSpan(r0 * dMlp, (r1 - r0) * dMlp), dst);
            for (int r = 0; r < r1 - r0; r++) TensorPrimitives.Add(dst.Slice(r * dMlp, dMlp), _bIn.Data, dst.Slice(r * dMlp, dMlp));
        });
        if (!inPlace) ctx.Release(pre, PreHook);
        if (linear is not null) ctx.Release(linear, PreLinearHook);
        return ctx.Apply(PostHook, _layer, post);
    }

    /// <summary>mlp_out = post·W_out + b_out.</summary>
    /// <param name="post">hook_post [batch, pos, d_mlp]</param>
    /// <param name="ctx">The forward call (its activation memory).</param>
    /// <returns>hook_mlp_out before its hook [batch, pos, d_model]</returns>
    internal Tensor Output(Tensor post, ForwardContext ctx)
    {
        int batch = post.Dim(0), pos = post.Dim(1);
        var output = ctx.Allocate(batch, pos, _dModel);
        Gemm.Multiply(post.Data, _wOut, output.Data, batch * pos);
        ParallelRows.AddBiasRows(output.Data, _bOut.Data);
        return output;
    }

    /// <summary>The activations <see cref="Backward"/> reads from the forward cache (with parameter gradients also
    /// the MLP's input and hook_post).</summary>
    /// <param name="inputHook">the hook point of the MLP's input (ln2.hook_normalized)</param>
    /// <param name="parameters">whether parameter gradients are wanted</param>
    internal IEnumerable<string> BackwardHooks(string inputHook, bool parameters)
    {
        var names = new List<string> { PreHook };
        if (Gated) names.Add(PreLinearHook);
        if (parameters) names.AddRange([PostHook, inputHook]);
        return names;
    }

    /// <summary>
    /// The MLP backwards: dPost = dOut·W_outᵀ; plain: dPre = dPost ∘ act'(pre), dX = dPre·W_inᵀ; gated: dPre = dPost ∘
    /// pre_linear ∘ act'(pre), dPreLinear = dPost ∘ act(pre), dX = dPre·W_gateᵀ + dPreLinear·W_inᵀ. Reports hook_post,
    /// hook_pre (and hook_pre_linear); accumulates W_out, b_out, W_in, b_in (and W_gate) when wanted.
    /// </summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dOut">d/d hook_mlp_out [batch, pos, d_model]</param>
    /// <param name="input">the MLP's input [batch, pos, d_model] (the ln2 output), read only for the weights' gradients</param>
    /// <returns>d/d the MLP's input (ln2's output) [batch, pos, d_model]</returns>
    internal Tensor Backward(BackwardPass pass, Tensor dOut, Func<Tensor> input)
    {
        var (wInT, wOutT, wGateT) = BackwardWeights();
        int batch = dOut.Dim(0), pos = dOut.Dim(1), rows = batch * pos;
        string prefix = $"blocks.{_layer}.mlp.";
        var dPost = Tensor.Zeros(batch, pos, _dMlp);
        Gemm.Multiply(dOut.Data, wOutT, dPost.Data, rows);                       // [rows, d] -> [rows, d_mlp]
        pass.Put(PostHook, dPost);
        if (pass.Parameter(prefix + "W_out", _dMlp, _dModel) is { } dWOut)
            BackwardPass.AddWeightGradient(pass.Require(PostHook).Data, dOut.Data, dWOut.Data, rows);
        if (pass.Parameter(prefix + "b_out", _dModel) is { } dBOut) BackwardPass.AddColumnSums(dOut.Data, dBOut.Data);

        var pre = pass.Require(PreHook);
        var dPre = Tensor.Zeros(batch, pos, _dMlp);
        var dIn = Tensor.Zeros(batch, pos, _dModel);
        if (!Gated)
        {
            ParallelRows.For(rows, (long)rows * _dMlp * 16, (r0, r1) =>
            {
                int start = r0 * _dMlp, length = (r1 - r0) * _dMlp;
                _act.MultiplyDerivative(pre.Data.AsSpan(start, length), dPost.Data.AsSpan(start, length), dPre.Data.AsSpan(start, length));
            });
            pass.Put(PreHook, dPre);
            AccumulateInputWeight(pass, prefix + "W_in", input, dPre, rows);
            if (pass.Parameter(prefix + "b_in", _dMlp) is { } dBIn) BackwardPass.AddColumnSums(dPre.Data, dBIn.Data);
            Gemm.Multiply(dPre.Data, wInT, dIn.Data, rows);                      // [rows, d_mlp] -> [rows, d]
            return dIn;
        }
        var linear = pass.Require(PreLinearHook);
        var dLinear = Tensor.Zeros(batch, pos, _dMlp);
        ParallelRows.For(rows, (long)rows * _dMlp * 24, (r0, r1) =>
        {
            int start = r0 * _dMlp, length = (r1 - r0) * _dMlp;
            var dp = dPost.Data.AsSpan(start, length);
            var dl = dLinear.Data.AsSpan(start, length);
            var dg = dPre.Data.AsSpan(start, length);
            _act.Apply(pre.Data.AsSpan(start, length), dl);
            TensorPrimitives.Multiply(dl, dp, dl);                                   // dPreLinear = dPost ∘ act(pre)
            TensorPrimitives.Multiply(dp, linear.Data.AsSpan(start, length), dg);   // dPre = dPost ∘ pre_linear ∘ act'(pre)
            _act.MultiplyDerivative(pre.Data.AsSpan(start, length), dg, dg);
        });
        pass.Put(PreHook, dPre);
        pass.Put(PreLinearHook, dLinear);
        if (pass.Parameter(prefix + "b_in", _dMlp) is { } dB) BackwardPass.AddColumnSums(dPost.Data, dB.Data);
        AccumulateInputWeight(pass, prefix + "W_gate", input, dPre, rows);
        AccumulateInputWeight(pass, prefix + "W_in", input, dLinear, rows);
        Gemm.Multiply(dPre.Data, wGateT!, dIn.Data, rows);
        Gemm.Multiply(dLinear.Data, wInT, dIn.Data, rows, accumulate: true);
        return dIn;
    }

    private void AccumulateInputWeight(BackwardPass pass, string name, Func<Tensor> input, Tensor dOutput, int rows)
    {
        if (pass.Parameter(name, _dModel, _dMlp) is { } acc) BackwardPass.AddWeightGradient(input().Data, dOutput.Data, acc.Data, rows);
    }

    /// <summary>W_inᵀ, W_outᵀ (and W_gateᵀ) packed for the backward GEMMs, built on first use and kept until released.</summary>
    internal (PackedMatrix WInT, PackedMatrix WOutT, PackedMatrix? WGateT) BackwardWeights()
    {
        lock (_backwardLock)
            return _backward ??= (PackedMatrix.Pack(_wInT.Data, _dMlp, _dModel, transposed: true),  // W_in [d, d_mlp] = [n, k]
                PackedMatrix.Pack(_wOutT.Data, _dModel, _dMlp, transposed: true),                    // W_out [d_mlp, d] = [n, k]
                _w.W_gate is { } gate ? PackedMatrix.Pack(gate.Data, _dMlp, _dModel, transposed: true) : null);
    }

    /// <summary>Whether the backward weights are held.</summary>
    internal bool HoldsBackwardWeights { get { lock (_backwardLock) return _backward is not null; } }

    /// <summary>The MLP's weights changed in place (a training step): packs W_in, W_out (W_gate) and, when held, their
    /// backward copies again into their own storage (no allocation).</summary>
    internal void RepackWeights()
    {
        lock (_backwardLock)
        {
            _wIn.Repack(_wInT.Data);
            _wOut.Repack(_wOutT.Data);
            if (_w.W_gate is { } gate) _wGate!.Repack(gate.Data);
            if (_backward is not { } backward) return;
            backward.WInT.Repack(_wInT.Data, transposed: true);
            backward.WOutT.Repack(_wOutT.Data, transposed: true);
            if (_w.W_gate is { } g) backward.WGateT!.Repack(g.Data, transposed: true);
        }
    }

    /// <summary>Drops the backward weights; the next backward pass packs them again.</summary>
    internal void ReleaseBackwardWeights() { lock (_backwardLock) _backward = null; }
}
