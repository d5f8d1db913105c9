using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// The Q/K/V projection of the block after a single-neuron patch, without its GEMM. The patch adds a·w to the
/// target's residual stream (w = W_out[n] of the patched layer, a = Δpost of neuron n at that position). ln1 is
/// P(x)/s(x)∘γ + β with P linear (centring for LayerNorm, the identity for RMSNorm: <see cref="Normalization.Statistic"/>),
/// so ln1's projected input is P(x) + a·P(w) and
///     ln1(x + a·w)·W + b = ((P(x)∘γ)·W + a·(P(w)∘γ)·W) / s' + β·W + b,
/// with s' the patched row's own scale (W = [W_Q | W_K | W_V], γ/β ln1's weight and bias, 1/0 when folded or absent).
/// (P(x)∘γ)·W is computed once per target row and (P(w)∘γ)·W once per neuron; a patched row then costs one
/// axpy instead of a d_model x 3·n_heads·d_head product. Same numbers up to float rounding.
/// </summary>
internal sealed class NeuronQkv
{
    private readonly float[] _target;  // [prompts·pos, 3·hd]: (x_c∘γ)·W of the target's resid_pre of Block
    private readonly float[] _neurons; // [d_mlp, 3·hd]: (w_c∘γ)·W per neuron of block Block - 1
    private readonly float[] _bias;    // [3·hd]: β·W + b
    private readonly Normalization _ln1;
    private readonly int _dModel, _width, _pos;

    /// <param name="model">the model</param>
    /// <param name="runs">the unpatched runs (the target's cached residuals are projected once)</param>
    /// <param name="block">the block the patched runs start at (≥ 1): patches are neurons of block - 1.</param>
    public NeuronQkv(HookedTransformer model, PatchingRuns runs, int block)
    {
        Block = block;
        var b = model.Blocks[block];
        _ln1 = b.Ln1;
        float[]? gamma = _ln1.W?.Data, beta = _ln1.B?.Data;
        _dModel = model.Config.DModel;
        _width = b.Attn.Qkv.Width;
        _pos = runs.Target.Pos;

        var x = runs.TargetCache[HookNames.ResidPost(block - 1)]; // [prompts, pos, d_model] = resid_pre of block
        var qkv = b.Attn.Qkv;
        _target = qkv.Project(CentredScaled(x.Data, gamma), x.Length / _dModel, addBias: false);
        var wOut = model.RequireMlp(block - 1).W_out; // [d_mlp, d_model]
        _neurons = qkv.Project(CentredScaled(wOut.Data, gamma), wOut.Dim(0), addBias: false);
        _bias = qkv.Bias.ToArray();
        if (beta is not null) TensorPrimitives.Add(_bias, qkv.Project(beta, 1, addBias: false), _bias);
    }

    public int Block { get; }

    /// <summary>ln1(resid)·W + b for one pass whose residual rows are the target's plus each patch's neuron change.</summary>
    /// <param name="resid">[patches·prompts, newPos, d_model]: row i·prompts + b is patch i on prompt b, positions from <paramref name="start"/></param>
    /// <param name="patches">single-neuron patches of block <see cref="Block"/> - 1, one per group of rows</param>
    /// <param name="prompts">prompts per patch</param>
    /// <param name="start">absolute position of the first row position</param>
    /// <param name="source">the patched hook's source activation [prompts, pos, d_mlp]</param>
    /// <param name="target">the same hook of the target run [prompts, pos, d_mlp]</param>
    /// <returns>[patches·prompts·newPos, 3·n_heads·d_head]</returns>
    public float[] Compute(Tensor resid, IReadOnlyList<SlicePatch> patches, int prompts, int start, Tensor source, Tensor target)
    {
        int newPos = resid.Dim(1), w = _width, d = _dModel;
        var qkv = GC.AllocateUninitializedArray<float>(resid.Dim(0) * newPos * w);
        Parallel.For(0, patches.Count, () => new float[d], (i, _, centred) =>
        {
            var patch = patches[i];
            var neuron = _neurons.AsSpan(patch.Neuron * w, w);
            for (int b = 0; b < prompts; b++)
                for (int j = 0; j < newPos; j++)
                {
                    int row = (i * prompts + b) * newPos + j, p = start + j;
                    var x = resid.Data.AsSpan(row * d, d);
                    float s = _ln1.Statistic(x, centred);
                    var dst = qkv.AsSpan(row * w, w);
                    var projected = _target.AsSpan((b * _pos + p) * w, w);
                    float a = patch.NeuronDelta(b, p, source, target);
                    if (a != 0f) TensorPrimitives.MultiplyAdd(neuron, a, projected, dst);
                    else projected.CopyTo(dst);
                    TensorPrimitives.MultiplyAdd(dst, 1f / s, _bias, dst);
                }
            return centred;
        }, _ => { });
        return qkv;
    }

    /// <summary>P of each d_model row of <paramref name="rows"/> (centred for LayerNorm), times γ (when present).</summary>
    private float[] CentredScaled(float[] rows, float[]? gamma)
    {
        var result = new float[rows.Length];
        for (int r = 0; r < rows.Length / _dModel; r++)
        {
            var src = rows.AsSpan(r * _dModel, _dModel);
            var dst = result.AsSpan(r * _dModel, _dModel);
            _ln1.Statistic(src, dst);
            if (gamma is not null) TensorPrimitives.Multiply(dst, gamma, dst);
        }
        return result;
    }
}
