using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// Direct logit attribution of a logit difference (correct - wrong answer) at each prompt's final real position:
/// the logit lens, the per-layer and per-head decompositions and the top neurons, per prompt and averaged.
/// Every value is in logits: the component's LN-applied (final LayerNorm) projection on the logit-difference
/// direction (see <see cref="ResidualDirections"/>).
/// </summary>
public sealed class LogitDiffAttribution
{
    /// <summary>(correct, wrong) per prompt.</summary>
    public required IReadOnlyList<(int Correct, int Wrong)> Answers { get; init; }
    /// <summary>The final real position of each prompt that was read.</summary>
    public required int[] Positions { get; init; }
    /// <summary>logit[correct] - logit[wrong] per prompt, recomputed from the cache's final residual stream.</summary>
    public required float[] MeasuredLogitDiff { get; init; }
    /// <summary>b_U[correct] - b_U[wrong] (+ ln_final.b·ΔW_U for raw models) per prompt: measured - Σ(decomposition).</summary>
    public required float[] ConstantTerms { get; init; }
    /// <summary>Logit lens: rows ["logit_diff"], cols "0_pre", "0_mid", ..., "final_post" (accumulated resid, final LN scale).</summary>
    public required Grid LogitLens { get; init; }
    /// <summary>Rows ["logit_diff"], cols "embed", "pos_embed", "0_attn_out", "0_mlp_out", ... (decomposed resid incl. biases).</summary>
    public required Grid Layers { get; init; }
    /// <summary>Rows = layers "0".."L-1", cols = heads "0".."H-1" (z_h·W_O[h], without b_O).</summary>
    public required Grid Heads { get; init; }
    /// <summary>Rows ["logit_diff"], cols "L{l}N{n}": the top-k neurons by |mean attribution| (post[n]·W_out[n], without b_out).</summary>
    public required Grid TopNeurons { get; init; }
}

/// <summary>
/// Direct logit attribution: each component's contribution to the logit difference through the unembedding, read
/// from a cache (TransformerLens' <c>logit_attrs</c> over accumulated, decomposed and per-head residual stacks).
/// </summary>
public static class DirectLogitAttribution
{
    /// <summary>The hook names <see cref="ForLogitDiff"/> reads on <paramref name="model"/>: pass to RunWithCache to cache
    /// only these (no hook_pos_embed with rotary positions, no resid_mid in parallel blocks).</summary>
    public static IReadOnlyList<string> NeededHooks(HookedTransformer model)
    {
        var declared = model.HookPointNames.ToHashSet(StringComparer.Ordinal);
        return NeededHooks(model.Config.NLayers).Where(declared.Contains).ToList();
    }

    /// <summary>The hook names <see cref="ForLogitDiff"/> reads on a GPT-2-shaped model of <paramref name="nLayers"/>
    /// layers (learned positions, sequential blocks).</summary>
    public static IReadOnlyList<string> NeededHooks(int nLayers)
    {
        var names = new List<string> { HookNames.Embed, HookNames.PosEmbed, HookNames.LnFinalScale };
        for (int l = 0; l < nLayers; l++)
            names.AddRange([HookNames.ResidPre(l), HookNames.ResidMid(l), HookNames.ResidPost(l), HookNames.AttnOut(l),
                HookNames.MlpOut(l), HookNames.Z(l), HookNames.MlpPost(l)]);
        return names;
    }

    /// <summary>
    /// Direct logit attribution of logit[correct] - logit[wrong] at each prompt's final real position of
    /// <paramref name="tokens"/> (the batch the cache was run on). <paramref name="topK"/> neurons are kept.
    /// </summary>
    public static LogitDiffAttribution ForLogitDiff(HookedTransformer model, ActivationCache cache, TokenBatch tokens,
        IReadOnlyList<(int Correct, int Wrong)> answers, int topK = 20)
    {
        if (answers.Count != tokens.Batch)
            throw new InvalidInputException($"{answers.Count} answer pairs for {tokens.Batch} prompts: give one (correct, wrong) pair per prompt");
        if (!ReferenceEquals(cache.Model, model))
            throw new InvalidInputException("the cache was made by a different model: run RunWithCache on this model");
        int batch = tokens.Batch, n = model.Config.NLayers, heads = model.Config.NHeads;
        var pos = PosSlice.Final(tokens);
        var correct = answers.Select(a => a.Correct).ToArray();
        var wrong = answers.Select(a => a.Wrong).ToArray();
        var directions = ResidualDirections.LogitDirections(model, correct, wrong);
        var constants = ResidualDirections.ConstantLogitTerms(model, correct, wrong);

        var lensStack = cache.AccumulatedResid(pos, inclMid: true);
        var lens = cache.LogitAttrs(lensStack, directions);
        var layerStack = cache.DecomposeResid(pos);
        var layers = cache.LogitAttrs(layerStack, directions);
        var heads_ = cache.LogitAttrs(cache.StackHeadResults(pos), directions);
        var neurons = NeuronLogitAttrs(cache, pos, directions);

        int final = lensStack.Components - 1;
        var measured = new float[batch];
        for (int b = 0; b < batch; b++) measured[b] = lens.Data[final * batch + b] + constants[b];

        var headPerPrompt = new float[batch * n * heads];
        for (int c = 0; c < n * heads; c++)
            for (int b = 0; b < batch; b++) headPerPrompt[b * n * heads + c] = heads_.Data[c * batch + b];

        // Top neurons by |mean over prompts|.
        int dMlp = model.Config.DMlp, total = n * dMlp;
        var mean = new float[total];
        for (int i = 0; i < total; i++) mean[i] = TensorPrimitives.Sum(neurons.Data.AsSpan(i * batch, batch)) / batch;
        var top = Enumerable.Range(0, total).OrderByDescending(i => MathF.Abs(mean[i])).ThenBy(i => i).Take(Math.Max(0, topK)).ToArray();
        var topPerPrompt = new float[batch * top.Length];
        for (int k = 0; k < top.Length; k++)
            for (int b = 0; b < batch; b++) topPerPrompt[b * top.Length + k] = neurons.Data[top[k] * batch + b];

        return new LogitDiffAttribution
        {
            Answers = answers.ToArray(),
            Positions = pos.Resolve(batch, tokens.Pos),
            MeasuredLogitDiff = measured,
            ConstantTerms = constants,
            LogitLens = Line(lens, lensStack.Labels, "Logit lens: logit difference of the accumulated residual stream"),
            Layers = Line(layers, layerStack.Labels, "Direct logit attribution per component"),
            Heads = Titled(new Tensor(headPerPrompt, batch, n, heads),
                Enumerable.Range(0, n).Select(l => l.ToString()).ToArray(), Enumerable.Range(0, heads).Select(h => h.ToString()).ToArray(),
                "Direct logit attribution per head", "layer", "head"),
            TopNeurons = Titled(new Tensor(topPerPrompt, batch, 1, top.Length), ["logit_diff"],
                top.Select(i => new NeuronId(i / dMlp, i % dMlp).ToString()).ToArray(), $"Top {top.Length} neurons by |mean direct logit attribution|", null, "neuron"),
        };
    }

    /// <summary>
    /// Direct logit attribution of every MLP neuron of every layer without materialising stack_neuron_results:
    /// attr[l·d_mlp + n, b] = post[b, pos_b, n] · (W_out[l][n] · centre(dir_b) / scale_b), which equals
    /// LogitAttrs(StackNeuronResults(...)) because centring is linear. <paramref name="directions"/> is [batch, d_model]
    /// (<see cref="ResidualDirections.LogitDirections"/>). Returns [n_layers·d_mlp, batch], labels "L{l}N{n}" in that order.
    /// </summary>
    public static Tensor NeuronLogitAttrs(ActivationCache cache, PosSlice pos, Tensor directions)
    {
        var cfg = cache.Model.Config;
        int n = cfg.NLayers, d = cfg.DModel, dMlp = cfg.DMlp;
        var (batch, positions) = ResidualDecomposition.Positions(cache, pos);
        directions.RequireShape("directions", batch, d);
        var scale = cache[HookNames.LnFinalScale];
        var effective = new float[batch * d];
        for (int b = 0; b < batch; b++)
        {
            var dst = effective.AsSpan(b * d, d);
            var src = directions.Data.AsSpan(b * d, d);
            TensorPrimitives.Subtract(src, TensorPrimitives.Sum(src) / d, dst);
            TensorPrimitives.Divide(dst, scale.Data[b * scale.Dim(1) + positions[b]], dst);
        }
        var result = Tensor.Zeros(n * dMlp, batch);
        for (int l = 0; l < n; l++)
        {
            var post = cache[HookNames.MlpPost(l)];
            var wOut = cache.Model.RequireMlp(l).W_out;
            for (int i = 0; i < dMlp; i++)
            {
                var row = wOut.Data.AsSpan(i * d, d);
                for (int b = 0; b < batch; b++)
                    result.Data[(l * dMlp + i) * batch + b] =
                        post.Data[(b * post.Dim(1) + positions[b]) * dMlp + i] * TensorPrimitives.Dot(row, effective.AsSpan(b * d, d));
            }
        }
        return result;
    }

    // [components, batch] -> Grid rows ["logit_diff"], per_prompt [batch, 1, components].
    private static Grid Line(Tensor attrs, IReadOnlyList<string> labels, string title)
    {
        int comps = attrs.Dim(0), batch = attrs.Dim(1);
        var pp = new float[batch * comps];
        for (int c = 0; c < comps; c++)
            for (int b = 0; b < batch; b++) pp[b * comps + c] = attrs.Data[c * batch + b];
        return Titled(new Tensor(pp, batch, 1, comps), ["logit_diff"], labels.ToArray(), title, null, "component");
    }

    private static Grid Titled(Tensor perPrompt, IReadOnlyList<string> rows, IReadOnlyList<string> cols, string title, string? rowTitle, string colTitle)
    {
        var g = Grid.FromPerPrompt(perPrompt, rows, cols);
        return new Grid(g.Values, rows, cols, perPrompt) { Title = title, RowTitle = rowTitle, ColTitle = colTitle };
    }
}
