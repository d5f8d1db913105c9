using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>MLP: pre = x·W_in + b_in (mlp.hook_pre); post = gelu_new(pre) (mlp.hook_post); mlp_out = post·W_out + b_out.</summary>
public sealed class Mlp
{
    private readonly BlockWeights _w;
    private readonly int _layer, _dModel, _dMlp;
    private readonly PackedMatrix _wIn, _wOut;
    private readonly Lock _backwardLock = new();
    private (PackedMatrix WInT, PackedMatrix WOutT)? _backward;

    /// <summary>The MLP of block <paramref name="layer"/>, with W_in and W_out packed once for the GEMM.</summary>
    public Mlp(BlockWeights w, int layer)
    {
        _w = w; _layer = layer;
        _dModel = w.W_in.Dim(0); _dMlp = w.W_in.Dim(1);
        _wIn = PackedMatrix.Pack(w.W_in.Data, _dModel, _dMlp);
        _wOut = PackedMatrix.Pack(w.W_out.Data, _dMlp, _dModel);
        PreHook = HookNames.MlpPre(layer);
        PostHook = HookNames.MlpPost(layer);
    }

    /// <summary>blocks.L.mlp.hook_pre [batch, pos, d_mlp].</summary>
    public string PreHook { get; }
    /// <summary>blocks.L.mlp.hook_post [batch, pos, d_mlp]: the neuron activations.</summary>
    public string PostHook { get; }
    /// <summary>[d_mlp, d_model]: row n is what one unit of neuron n adds to the residual stream.</summary>
    public Tensor W_out => _w.W_out;

    /// <summary>The MLP's hook points, in forward order, with their shapes.</summary>
    internal IEnumerable<HookDeclaration> HookPoints()
    {
        yield return new(PreHook, _layer, ["batch", "pos", "d_mlp"]);
        yield return new(PostHook, _layer, ["batch", "pos", "d_mlp"]);
    }

    /// <param name="x">ln2.hook_normalized [batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>hook_mlp_out [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx)
    {
        var post = Hidden(x, ctx, stopAfterPre: false);
        var output = Output(post, ctx);
        ctx.Release(post, PostHook);
        return output;
    }

    /// <summary>The neuron activations: pre = x·W_in + b_in, then (unless <paramref name="stopAfterPre"/>) post = gelu_new(pre),
    /// with their hooks.</summary>
    /// <param name="x">ln2.hook_normalized [batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <param name="stopAfterPre">Return hook_pre without applying GELU (a pass that stops there).</param>
    /// <returns>hook_post [batch, pos, d_mlp] (hook_pre with <paramref name="stopAfterPre"/>)</returns>
    internal Tensor Hidden(Tensor x, ForwardContext ctx, bool stopAfterPre)
    {
        int batch = x.Dim(0), pos = x.Dim(1), rows = batch * pos, dMlp = _dMlp;
        var pre = ctx.Allocate(batch, pos, dMlp);
        Gemm.Multiply(x.Data, _wIn, pre.Data, rows);
        ParallelRows.AddBiasRows(pre.Data, _w.b_in.Data);
        pre = ctx.Apply(PreHook, _layer, pre);
        if (stopAfterPre) return pre;
        // GELU in place when nobody can hold hook_pre: the pass then touches one [rows, d_mlp] buffer, not two.
        bool inPlace = ctx.IsScratch(pre, PreHook);
        var post = inPlace ? pre : ctx.Allocate(batch, pos, dMlp);
        ParallelRows.For(rows, (long)rows * dMlp * 8, (r0, r1) => // GELU is ~20 flops an element: split it too
            Kernels.GeluNew(pre.Data.AsSpan(r0 * dMlp, (r1 - r0) * dMlp), post.Data.AsSpan(r0 * dMlp)));
        if (!inPlace) ctx.Release(pre, PreHook);
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
        ParallelRows.AddBiasRows(output.Data, _w.b_out.Data);
        return output;
    }

    /// <summary>The activations <see cref="Backward"/> reads from the forward cache (with parameter gradients also
    /// the MLP's input and hook_post).</summary>
    /// <param name="inputHook">the hook point of the MLP's input (ln2.hook_normalized)</param>
    /// <param name="parameters">whether parameter gradients are wanted</param>
    internal IEnumerable<string> BackwardHooks(string inputHook, bool parameters) =>
        parameters ? [PreHook, PostHook, inputHook] : [PreHook];

    /// <summary>
    /// mlp_out = gelu_new(x·W_in + b_in)·W_out + b_out backwards: dPost = dOut·W_outᵀ, dPre = dPost ∘ gelu_new'(pre),
    /// dX = dPre·W_inᵀ; reports hook_post and hook_pre; accumulates W_out, b_out, W_in, b_in when wanted.
    /// </summary>
    /// <param name="pass">the backward pass</param>
    /// <param name="dOut">d/d hook_mlp_out [batch, pos, d_model]</param>
    /// <param name="input">the MLP's input [batch, pos, d_model] (the ln2 output), read only for W_in's gradient</param>
    /// <returns>d/d the MLP's input (ln2.hook_normalized) [batch, pos, d_model]</returns>
    internal Tensor Backward(BackwardPass pass, Tensor dOut, Func<Tensor> input)
    {
        var (wInT, wOutT) = BackwardWeights();
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
        for (int i = 0; i < pre.Length; i++) dPre.Data[i] = dPost.Data[i] * Kernels.GeluNewGrad(pre.Data[i]);
        pass.Put(PreHook, dPre);
        if (pass.Parameter(prefix + "W_in", _dModel, _dMlp) is { } dWIn)
            BackwardPass.AddWeightGradient(input().Data, dPre.Data, dWIn.Data, rows);
        if (pass.Parameter(prefix + "b_in", _dMlp) is { } dBIn) BackwardPass.AddColumnSums(dPre.Data, dBIn.Data);

        var dIn = Tensor.Zeros(batch, pos, _dModel);
        Gemm.Multiply(dPre.Data, wInT, dIn.Data, rows);                          // [rows, d_mlp] -> [rows, d]
        return dIn;
    }

    /// <summary>W_inᵀ and W_outᵀ packed for the backward GEMMs, built on first use and kept until released.</summary>
    internal (PackedMatrix WInT, PackedMatrix WOutT) BackwardWeights()
    {
        lock (_backwardLock)
            return _backward ??= (PackedMatrix.Pack(_w.W_in.Data, _dMlp, _dModel, transposed: true),   // W_in [d, d_mlp] = [n, k]
                PackedMatrix.Pack(_w.W_out.Data, _dModel, _dMlp, transposed: true));                // W_out [d_mlp, d] = [n, k]
    }

    /// <summary>Whether the backward weights are held.</summary>
    internal bool HoldsBackwardWeights { get { lock (_backwardLock) return _backward is not null; } }

    /// <summary>Drops the backward weights; the next backward pass packs them again.</summary>
    internal void ReleaseBackwardWeights() { lock (_backwardLock) _backward = null; }
}
