using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Analysis.Attribution;

/// <summary>Which block outputs <see cref="ResidualDecomposition.DecomposeResid"/> lists (TL's mode="all"|"attn"|"mlp").</summary>
public enum DecomposeMode
{
    /// <summary>Every attention and MLP output (TransformerLens' mode="all").</summary>
    All,
    /// <summary>Only the attention outputs (mode="attn").</summary>
    Attn,
    /// <summary>Only the MLP outputs (mode="mlp").</summary>
    Mlp,
}

/// <summary>
/// TransformerLens' ActivationCache decompositions of the residual stream, read at one position per prompt
/// (<see cref="PosSlice"/>): every result is a <see cref="ComponentStack"/> of shape [components, batch, d_model].
/// The layer argument follows TL: null or -1 means "up to the final residual stream" (n_layers).
/// </summary>
public static class ResidualDecomposition
{
    /// <summary>
    /// TL accumulated_resid (the logit lens): resid_pre of every layer up to <paramref name="layer"/> (inclusive;
    /// layer = n_layers gives "final_post" = the last resid_post), with resid_mid between them when
    /// <paramref name="inclMid"/>. Labels "0_pre", "0_mid", "1_pre", ..., "final_post".
    /// With <paramref name="mlpInput"/>, resid_mid of <paramref name="layer"/> itself is appended (the input of its MLP).
    /// With <paramref name="applyLn"/>, the stack is centred and divided by the scale of the LayerNorm that reads
    /// <paramref name="layer"/>'s input (<see cref="ApplyLnToStack"/>).
    /// </summary>
    public static ComponentStack AccumulatedResid(this ActivationCache cache, PosSlice pos, int? layer = null,
        bool inclMid = false, bool applyLn = false, bool mlpInput = false)
    {
        int n = cache.Model.Config.NLayers, upTo = ResolveLayer(layer, n);
        var tensors = new List<Tensor>();
        var labels = new List<string>();
        for (int l = 0; l <= upTo; l++)
        {
            if (l == n) { tensors.Add(cache[HookNames.ResidPost(n - 1)]); labels.Add("final_post"); continue; }
            tensors.Add(cache[HookNames.ResidPre(l)]); labels.Add($"{l}_pre");
            // A parallel block has no resid_mid: its MLP reads resid_pre, which is already in the stack.
            if (((inclMid && l < upTo) || (mlpInput && l == upTo)) && cache.Model.Blocks[l].HasResidMid) { tensors.Add(cache[HookNames.ResidMid(l)]); labels.Add($"{l}_mid"); }
        }
        var stack = Stack(tensors, labels, pos);
        return applyLn ? cache.ApplyLnToStack(stack, upTo, mlpInput) : stack;
    }

    /// <summary>
    /// TL decompose_resid: the residual stream entering <paramref name="layer"/> (n_layers = the final one) as the sum of
    /// "embed", "pos_embed" (when <paramref name="inclEmbeds"/>) and each earlier block's "{l}_attn_out" and "{l}_mlp_out"
    /// (filtered by <paramref name="mode"/>). hook_attn_out and hook_mlp_out include b_O and b_out, so with mode All and
    /// embeddings the components sum exactly to resid_pre[layer] (or the final resid_post).
    /// </summary>
    public static ComponentStack DecomposeResid(this ActivationCache cache, PosSlice pos, int? layer = null,
        DecomposeMode mode = DecomposeMode.All, bool inclEmbeds = true, bool applyLn = false, bool mlpInput = false)
    {
        int n = cache.Model.Config.NLayers, upTo = ResolveLayer(layer, n);
        bool attn = mode != DecomposeMode.Mlp, mlp = mode != DecomposeMode.Attn;
        var tensors = new List<Tensor>();
        var labels = new List<string>();
        if (inclEmbeds)
        {
            tensors.Add(cache[HookNames.Embed]); labels.Add("embed");
            if (cache.Model.PosEmbedLayer is not null) { tensors.Add(cache[HookNames.PosEmbed]); labels.Add("pos_embed"); }   // none with rotary positions
        }
        for (int l = 0; l < upTo; l++)
        {
            if (attn) { tensors.Add(cache[HookNames.AttnOut(l)]); labels.Add($"{l}_attn_out"); }
            if (mlp) { tensors.Add(cache[HookNames.MlpOut(l)]); labels.Add($"{l}_mlp_out"); }
        }
        if (mlpInput && attn && upTo < n && cache.Model.Blocks[upTo].HasResidMid) { tensors.Add(cache[HookNames.AttnOut(upTo)]); labels.Add($"{upTo}_attn_out"); }
        if (tensors.Count == 0) throw new InvalidInputException($"decompose_resid up to layer {upTo} with these options has no components");
        var stack = Stack(tensors, labels, pos);
        return applyLn ? cache.ApplyLnToStack(stack, upTo, mlpInput) : stack;
    }

    /// <summary>
    /// TL stack_head_results: each head's output z_h·W_O[h] for every layer below <paramref name="layer"/>, labels "L{l}H{h}",
    /// [layer·n_heads, batch, d_model]. Uses hook_result when cached, otherwise computes it from hook_z and W_O.
    /// As in TL the per-head results exclude b_O (Σ_h result + b_O = hook_attn_out). hook_z already contains the value
    /// biases, so this holds for raw models too; in processed models b_V is folded into b_O and so appears only there.
    /// <paramref name="inclRemainder"/> appends "remainder" = resid_post[layer-1] - Σ heads (embeddings, MLPs and biases).
    /// </summary>
    public static ComponentStack StackHeadResults(this ActivationCache cache, PosSlice pos, int layer = -1,
        bool inclRemainder = false, bool applyLn = false)
    {
        var cfg = cache.Model.Config;
        int upTo = ResolveLayer(layer, cfg.NLayers), heads = cfg.NHeads, d = cfg.DModel;
        if (upTo == 0) throw new InvalidInputException("stack_head_results with layer 0 has no heads: pass a layer of at least 1 (or -1 for all)");
        var (batch, positions) = Positions(cache, pos);
        int count = upTo * heads + (inclRemainder ? 1 : 0);
        var values = Tensor.Zeros(count, batch, d);
        var labels = new List<string>(count);
        for (int l = 0; l < upTo; l++)
        {
            for (int h = 0; h < heads; h++) labels.Add(new HeadId(l, h).ToString());
            if (cache.TryGet(HookNames.Result(l), out var result))
            {
                RequireBatch(result, batch, HookNames.Result(l));
                for (int b = 0; b < batch; b++)
                    for (int h = 0; h < heads; h++)
                        result.Data.AsSpan(((b * result.Dim(1) + positions[b]) * heads + h) * d, d)
                            .CopyTo(values.Data.AsSpan(((l * heads + h) * batch + b) * d, d));
                continue;
            }
            var z = cache[HookNames.Z(l)];
            RequireBatch(z, batch, HookNames.Z(l));
            var wO = cache.Model.Weights.Blocks[l].W_O;
            int dh = wO.Dim(1);
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < heads; h++)
                {
                    var zRow = z.Data.AsSpan(((b * z.Dim(1) + positions[b]) * heads + h) * dh, dh);
                    var dst = values.Data.AsSpan(((l * heads + h) * batch + b) * d, d);
                    for (int j = 0; j < dh; j++) TensorPrimitives.MultiplyAdd(wO.Data.AsSpan((h * dh + j) * d, d), zRow[j], dst, dst);
                }
        }
        if (inclRemainder) AddRemainder(cache, values, labels, upTo, positions);
        var stack = new ComponentStack(values, labels, positions);
        return applyLn ? cache.ApplyLnToStack(stack, upTo) : stack;
    }

    /// <summary>
    /// TL stack_neuron_results: each MLP neuron's output post[n]·W_out[n] for every layer below <paramref name="layer"/>,
    /// labels "L{l}N{n}", [layer·neurons, batch, d_model]; <paramref name="neurons"/> (default all d_mlp) is applied
    /// to every layer. Excludes b_out (Σ_n + b_out = hook_mlp_out). Large for real models (n_layers·d_mlp·batch·d_model
    /// floats): for logit attribution over all neurons prefer <see cref="DirectLogitAttribution.NeuronLogitAttrs"/>.
    /// </summary>
    public static ComponentStack StackNeuronResults(this ActivationCache cache, PosSlice pos, int layer = -1,
        IReadOnlyList<int>? neurons = null, bool inclRemainder = false, bool applyLn = false)
    {
        var cfg = cache.Model.Config;
        int upTo = ResolveLayer(layer, cfg.NLayers), d = cfg.DModel, dMlp = cfg.DMlp;
        if (upTo == 0) throw new InvalidInputException("stack_neuron_results with layer 0 has no neurons: pass a layer of at least 1 (or -1 for all)");
        var selected = neurons?.ToArray() ?? Enumerable.Range(0, dMlp).ToArray();
        foreach (int nIdx in selected)
            if ((uint)nIdx >= (uint)dMlp) throw new InvalidInputException($"neuron {nIdx} is outside d_mlp = {dMlp}");
        var (batch, positions) = Positions(cache, pos);
        int count = upTo * selected.Length + (inclRemainder ? 1 : 0);
        var values = Tensor.Zeros(count, batch, d);
        var labels = new List<string>(count);
        for (int l = 0; l < upTo; l++)
        {
            var post = cache[HookNames.MlpPost(l)];
            RequireBatch(post, batch, HookNames.MlpPost(l));
            var wOut = cache.Model.RequireMlp(l).W_out;
            for (int i = 0; i < selected.Length; i++)
            {
                int nIdx = selected[i];
                labels.Add(new NeuronId(l, nIdx).ToString());
                for (int b = 0; b < batch; b++)
                    TensorPrimitives.Multiply(wOut.Data.AsSpan(nIdx * d, d), post.Data[(b * post.Dim(1) + positions[b]) * dMlp + nIdx],
                        values.Data.AsSpan(((l * selected.Length + i) * batch + b) * d, d));
            }
        }
        if (inclRemainder) AddRemainder(cache, values, labels, upTo, positions);
        var stack = new ComponentStack(values, labels, positions);
        return applyLn ? cache.ApplyLnToStack(stack, upTo) : stack;
    }

    /// <summary>
    /// TL apply_ln_to_stack: centres every component over d_model and divides it by the cached LayerNorm scale at the
    /// stack's position of each prompt. The scale is ln_final.hook_scale when <paramref name="layer"/> is null, -1 or
    /// n_layers, otherwise blocks.{layer}.ln1.hook_scale (ln2 with <paramref name="mlpInput"/>). The LayerNorm's
    /// weight and bias are not applied (TL semantics; for processed models they are folded away — for raw models
    /// <see cref="ResidualDirections.LogitDirections"/> folds ln_final.w into the direction instead).
    /// Because centring (LayerNorm only; RMSNorm only divides) is linear and the scale is the one the forward pass used, the LN-applied components
    /// sum to the LayerNorm's actual (pre-w, pre-b) output.
    /// </summary>
    public static ComponentStack ApplyLnToStack(this ActivationCache cache, ComponentStack stack, int? layer = null,
        bool mlpInput = false, PosSlice? pos = null)
    {
        if (stack.LnScaleHook is not null)
            throw new InvalidInputException($"this stack was already divided by {stack.LnScaleHook}: apply the LayerNorm scale once");
        int n = cache.Model.Config.NLayers, l = ResolveLayer(layer, n);
        string hook = l == n ? HookNames.LnFinalScale : mlpInput ? HookNames.Ln2Scale(l) : HookNames.Ln1Scale(l);
        var scale = cache[hook];
        RequireBatch(scale, stack.Batch, hook);
        // LayerNorm centres before dividing; RMSNorm only divides (TransformerLens: centring for LN / LNPre only).
        var norm = l == n ? cache.Model.LnFinal : mlpInput ? cache.Model.Blocks[l].Ln2! : cache.Model.Blocks[l].Ln1;
        bool centre = norm.Centres;
        var positions = pos?.Resolve(scale.Dim(0), scale.Dim(1)) ?? stack.Positions;
        var outValues = stack.Values.Clone();
        int d = stack.DModel;
        for (int c = 0; c < stack.Components; c++)
            for (int b = 0; b < stack.Batch; b++)
            {
                var row = outValues.Data.AsSpan((c * stack.Batch + b) * d, d);
                if (centre) TensorPrimitives.Subtract(row, TensorPrimitives.Sum(row) / d, row);
                TensorPrimitives.Divide(row, scale.Data[b * scale.Dim(1) + positions[b]], row);
            }
        return new ComponentStack(outValues, stack.Labels, positions, hook);
    }

    /// <summary>
    /// TL logit_attrs: each component's direct contribution to the logit of <paramref name="tokens"/> (minus that of
    /// <paramref name="incorrectTokens"/>), one token (pair) per prompt: [components, batch]. A stack that is not yet
    /// LN-applied is first divided by ln_final's scale (<see cref="ApplyLnToStack"/>); it is then projected on
    /// <see cref="ResidualDirections.LogitDirections"/> (W_U difference, ⊙ ln_final.w for raw models).
    /// Σ over a complete decomposition + <see cref="ResidualDirections.ConstantLogitTerms"/> = the measured logit (difference).
    /// </summary>
    public static Tensor LogitAttrs(this ActivationCache cache, ComponentStack stack, IReadOnlyList<int> tokens,
        IReadOnlyList<int>? incorrectTokens = null)
    {
        if (tokens.Count != stack.Batch)
            throw new InvalidInputException($"{tokens.Count} tokens for a stack of {stack.Batch} prompts: give one token per prompt");
        return cache.LogitAttrs(stack, ResidualDirections.LogitDirections(cache.Model, tokens, incorrectTokens));
    }

    /// <summary>Projection of the final-LN-applied stack on explicit <paramref name="directions"/> ([batch, d_model], or [d_model] for all prompts): [components, batch].</summary>
    public static Tensor LogitAttrs(this ActivationCache cache, ComponentStack stack, Tensor directions)
    {
        int d = stack.DModel;
        bool shared = directions.Rank == 1;
        if (shared ? directions.Dim(0) != d : directions.Rank != 2 || directions.Dim(0) != stack.Batch || directions.Dim(1) != d)
            throw new ShapeMismatchException($"directions must be [{stack.Batch}, {d}] or [{d}], got {directions.ShapeString}");
        var scaled = stack.LnScaleHook switch
        {
            null => cache.ApplyLnToStack(stack),
            HookNames.LnFinalScale => stack,
            _ => throw new InvalidInputException($"logit attributions need a stack divided by {HookNames.LnFinalScale}, not {stack.LnScaleHook}"),
        };
        var result = Tensor.Zeros(stack.Components, stack.Batch);
        for (int c = 0; c < stack.Components; c++)
            for (int b = 0; b < stack.Batch; b++)
                result.Data[c * stack.Batch + b] = TensorPrimitives.Dot(scaled.Row(c, b), directions.Data.AsSpan(shared ? 0 : b * d, d));
        return result;
    }

    internal static int ResolveLayer(int? layer, int n)
    {
        if (layer is null or -1) return n;
        if (layer < 0 || layer > n) throw new InvalidInputException($"layer {layer} is outside 0..{n} (or -1 / null for the final residual stream)");
        return layer.Value;
    }

    internal static (int Batch, int[] Positions) Positions(ActivationCache cache, PosSlice pos)
    {
        var reference = cache.TryGet(HookNames.ResidPre(0), out var t) ? t : cache[HookNames.LnFinalScale];
        return (reference.Dim(0), pos.Resolve(reference.Dim(0), reference.Dim(1)));
    }

    private static ComponentStack Stack(List<Tensor> tensors, List<string> labels, PosSlice pos)
    {
        int batch = tensors[0].Dim(0), seq = tensors[0].Dim(1), d = tensors[0].Dim(2);
        var positions = pos.Resolve(batch, seq);
        var values = Tensor.Zeros(tensors.Count, batch, d);
        for (int c = 0; c < tensors.Count; c++)
        {
            var t = tensors[c];
            if (t.Rank != 3 || t.Dim(0) != batch || t.Dim(1) != seq || t.Dim(2) != d)
                throw new ShapeMismatchException($"component {labels[c]} is {t.ShapeString}, expected [{batch}, {seq}, {d}]");
            for (int b = 0; b < batch; b++)
                t.Data.AsSpan((b * seq + positions[b]) * d, d).CopyTo(values.Data.AsSpan((c * batch + b) * d, d));
        }
        return new ComponentStack(values, labels, positions);
    }

    private static void AddRemainder(ActivationCache cache, Tensor values, List<string> labels, int upTo, int[] positions)
    {
        var post = cache[HookNames.ResidPost(upTo - 1)];
        int batch = positions.Length, d = values.Dim(2), last = values.Dim(0) - 1;
        for (int b = 0; b < batch; b++)
        {
            var dst = values.Data.AsSpan((last * batch + b) * d, d);
            post.Data.AsSpan((b * post.Dim(1) + positions[b]) * d, d).CopyTo(dst);
            for (int c = 0; c < last; c++) TensorPrimitives.Subtract(dst, values.Data.AsSpan((c * batch + b) * d, d), dst);
        }
        labels.Add("remainder");
    }

    private static void RequireBatch(Tensor t, int batch, string name)
    {
        if (t.Dim(0) != batch) throw new ShapeMismatchException($"{name} has {t.Dim(0)} prompts, expected {batch}");
    }
}
