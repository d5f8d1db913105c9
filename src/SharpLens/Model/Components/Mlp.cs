using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>MLP: pre = x·W_in + b_in; post = gelu_new(pre); mlp_out = post·W_out + b_out.</summary>
public sealed class Mlp
{
    private readonly BlockWeights _w;
    private readonly int _layer;
    private readonly PackedMatrix _wIn, _wOut;

    /// <summary>The MLP of block <paramref name="layer"/>, with W_in and W_out packed once for the GEMM.</summary>
    public Mlp(BlockWeights w, int layer)
    {
        _w = w; _layer = layer;
        _wIn = PackedMatrix.Pack(w.W_in.Data, w.W_in.Dim(0), w.W_in.Dim(1));
        _wOut = PackedMatrix.Pack(w.W_out.Data, w.W_out.Dim(0), w.W_out.Dim(1));
    }

    /// <param name="x">ln2.hook_normalized [batch, pos, d_model]</param>
    /// <param name="ctx">The forward call: its hooks and the activation cache it fills.</param>
    /// <returns>hook_mlp_out [batch, pos, d_model]</returns>
    public Tensor Forward(Tensor x, ForwardContext ctx)
    {
        var post = Hidden(x, ctx, stopAfterPre: false);
        var output = Output(post, ctx);
        ctx.Release(post, HookNames.MlpPost(_layer));
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
        int batch = x.Dim(0), pos = x.Dim(1), rows = batch * pos;
        int dMlp = _w.W_in.Dim(1);
        var pre = ctx.Allocate(batch, pos, dMlp);
        Gemm.Multiply(x.Data, _wIn, pre.Data, rows);
        ParallelRows.AddBiasRows(pre.Data, _w.b_in.Data);
        pre = ctx.Apply(HookNames.MlpPre(_layer), _layer, pre);
        if (stopAfterPre) return pre;
        // GELU in place when nobody can hold hook_pre: the pass then touches one [rows, d_mlp] buffer, not two.
        bool inPlace = ctx.IsScratch(pre, HookNames.MlpPre(_layer));
        var post = inPlace ? pre : ctx.Allocate(batch, pos, dMlp);
        ParallelRows.For(rows, (long)rows * dMlp * 8, (r0, r1) => // GELU is ~20 flops an element: split it too
            Kernels.GeluNew(pre.Data.AsSpan(r0 * dMlp, (r1 - r0) * dMlp), post.Data.AsSpan(r0 * dMlp)));
        if (!inPlace) ctx.Release(pre, HookNames.MlpPre(_layer));
        return ctx.Apply(HookNames.MlpPost(_layer), _layer, post);
    }

    /// <summary>mlp_out = post·W_out + b_out.</summary>
    /// <param name="post">hook_post [batch, pos, d_mlp]</param>
    /// <param name="ctx">The forward call (its activation memory).</param>
    /// <returns>hook_mlp_out before its hook [batch, pos, d_model]</returns>
    internal Tensor Output(Tensor post, ForwardContext ctx)
    {
        int batch = post.Dim(0), pos = post.Dim(1), dModel = _w.W_out.Dim(1);
        var output = ctx.Allocate(batch, pos, dModel);
        Gemm.Multiply(post.Data, _wOut, output.Data, batch * pos);
        ParallelRows.AddBiasRows(output.Data, _w.b_out.Data);
        return output;
    }
}
