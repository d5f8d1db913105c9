using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Circuits;

/// <summary>
/// Edge attribution patching. <b>EAP</b> (Syed et al. 2023): score(u→n) = Σ_{prompt, pos} (corrupted − clean output of u)
/// · ∂metric/∂(input of n), the gradient taken on the clean run — one forward and one backward for all edges.
/// <b>EAP-IG</b> (Hanna et al. 2024, "EAP-IG-inputs"): the same with the gradient averaged over m runs whose input
/// embeddings are interpolated, corrupted + (k/m)·(clean − corrupted) for k = 0..m−1.
/// The metric is the mean over prompts, so a score estimates how much the mean metric moves when that one edge carries
/// its corrupted value. (EAP-IG additionally divides by the number of prompts; scores differ by that constant only.)
/// The input of a head's q/k/v is its own copy of the residual stream before ln1, so its gradient is
/// ln1ᵀ(∂metric/∂q_h · W_Q[h]ᵀ); the backward pass is the model's, written against its components (<see cref="TransformerBackward"/>).
/// </summary>
public static class EdgeAttribution
{
    /// <summary>EAP scores for every edge.</summary>
    /// <param name="model">the model (its graph is <see cref="CircuitGraph.For"/>).</param>
    /// <param name="clean">[prompt, pos] clean prompts.</param>
    /// <param name="corrupted">[prompt, pos] corrupted prompts, paired with and as long as the clean ones.</param>
    /// <param name="metric">per-prompt metric of the final logits (its mean is differentiated).</param>
    public static EdgeScores Eap(HookedTransformer model, TokenBatch clean, TokenBatch corrupted, IMetric metric) =>
        Run(model, clean, corrupted, metric, 0, null, null);

    /// <summary>EAP-IG scores for every edge, with <paramref name="steps"/> interpolation steps (EAP-IG's default here: 5).</summary>
    public static EdgeScores EapIg(HookedTransformer model, TokenBatch clean, TokenBatch corrupted, IMetric metric, int steps = 5)
    {
        if (steps < 1) throw new InvalidInputException($"EAP-IG needs at least one interpolation step, got {steps}");
        return Run(model, clean, corrupted, metric, steps, null, null);
    }

    /// <summary>
    /// EAP (<paramref name="steps"/> = 0) or EAP-IG scores reusing the clean and corrupted node outputs of an earlier
    /// run of the same prompts (e.g. a <see cref="CircuitEvaluator"/>'s), so that no forward pass is repeated.
    /// </summary>
    /// <param name="model">the model.</param>
    /// <param name="clean">[prompt, pos] clean prompts.</param>
    /// <param name="corrupted">[prompt, pos] corrupted prompts.</param>
    /// <param name="metric">per-prompt metric.</param>
    /// <param name="steps">0 for EAP, else the EAP-IG interpolation steps.</param>
    /// <param name="cleanOutputs">every node's output on <paramref name="clean"/> [n_forward, prompt·pos·d_model].</param>
    /// <param name="corruptedOutputs">every node's output on <paramref name="corrupted"/>.</param>
    public static EdgeScores Run(HookedTransformer model, TokenBatch clean, TokenBatch corrupted, IMetric metric, int steps,
        NodeOutputs? cleanOutputs, NodeOutputs? corruptedOutputs)
    {
        if (steps < 0) throw new InvalidInputException($"EAP-IG needs at least one interpolation step, got {steps}");
        _ = new Analysis.Patching.PatchingInputs(clean, corrupted, metric);   // validates pairing and lengths
        var graph = CircuitGraph.For(model);
        model = UngroupedAttention.Of(model);    // a grouped-query model's k/v inputs per query head (EAP-IG's view)
        int rd = clean.Batch * clean.Pos * model.Config.DModel;
        var gradients = new float[(long)graph.NBackward * rd];     // [n_backward, batch·pos·d_model], summed over steps
        // The run the gradient is taken on first (EAP: the clean run; EAP-IG's alpha = 0 step: the corrupted run, whose
        // input embeddings are exactly that step's) also yields that run's node outputs when they are not given.
        if (steps == 0) cleanOutputs = AccumulateInputGradients(model, graph, clean, metric, null, gradients, cleanOutputs is null);
        else corruptedOutputs = AccumulateInputGradients(model, graph, corrupted, metric, null, gradients, corruptedOutputs is null) ?? corruptedOutputs;
        cleanOutputs ??= NodeOutputs.Run(model, graph, clean);
        corruptedOutputs ??= NodeOutputs.Run(model, graph, corrupted);
        for (int k = 1; k < steps; k++)
        {
            float alpha = (float)k / steps;
            var interpolated = new float[rd];
            System.Numerics.Tensors.TensorPrimitives.Lerp(corruptedOutputs.Node(0), cleanOutputs.Node(0), alpha, interpolated);
            AccumulateInputGradients(model, graph, clean, metric, interpolated, gradients, false);
        }
        var diff = corruptedOutputs.Minus(cleanOutputs);                  // [n_forward, batch·pos·d_model]
        var scores = new float[graph.NForward * graph.NBackward];
        Gemm.Multiply(diff, gradients, scores, graph.NForward, rd, graph.NBackward, transposeB: true);
        if (steps > 1) System.Numerics.Tensors.TensorPrimitives.Multiply(scores, 1f / steps, scores);
        return new EdgeScores(graph, scores, steps == 0 ? "EAP" : "EAP-IG");
    }

    /// <summary>
    /// Adds ∂(mean metric)/∂(input of every downstream node) on one run of <paramref name="tokens"/> to
    /// <paramref name="gradients"/> [n_backward, batch·pos·d_model]. With <paramref name="inputOverride"/> the run's
    /// input embeddings (blocks.0.hook_resid_pre) are replaced by it [batch·pos·d_model]. With
    /// <paramref name="nodeOutputs"/> the same forward pass also records every node's output, which is returned.
    /// </summary>
    internal static NodeOutputs? AccumulateInputGradients(HookedTransformer model, CircuitGraph graph, TokenBatch tokens, IMetric metric,
        float[]? inputOverride, float[] gradients, bool nodeOutputs)
    {
        var cfg = model.Config;
        // Each query head's key and value input is its own copy (EAP-IG's graph), so their gradients are per query head:
        // the caller passes the ungrouped view of a grouped-query model.
        if (cfg.KeyValueHeads != cfg.NHeads)
            throw new InvalidOperationException("edge attribution needs the ungrouped view of a grouped-query model (UngroupedAttention.Of)");
        int batch = tokens.Batch, pos = tokens.Pos, d = cfg.DModel, H = cfg.NHeads, dh = cfg.DHead, rows = batch * pos, rd = rows * d;
        var hooks = inputOverride is null ? null : new List<Hook>
        {
            new(HookNames.ResidPre(0), (x, _) => new Tensor((float[])inputOverride.Clone(), x.Shape)),
        };
        var cache = new ActivationCache(model);
        var required = new HashSet<string>(model.BackwardHooks(), StringComparer.Ordinal);
        if (nodeOutputs) required.UnionWith(NodeOutputs.RequiredHooks(cfg.NLayers));
        var normalized = model.Run(tokens, new ForwardOptions { Hooks = hooks, Cache = cache, CacheFilter = required.Contains, Logits = LogitsMode.None });
        var finalRows = HookedTransformer.GatherFinal(normalized, tokens);
        var dFinal = MetricGradient.ForFinalNormalized(model, metric, finalRows, batch);
        var grads = TransformerBackward.FromFinalPositions(model, cache, tokens, dFinal, name =>
            name.EndsWith("attn.hook_q", StringComparison.Ordinal) || name.EndsWith("attn.hook_k", StringComparison.Ordinal)
            || name.EndsWith("attn.hook_v", StringComparison.Ordinal) || name.EndsWith("ln2.hook_normalized", StringComparison.Ordinal)
            || name == HookNames.LnFinalNormalized);

        var dHead = new float[rows * dh];
        var dNormalized = new float[rd];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var block = model.Blocks[l];
            var residPre = cache[HookNames.ResidPre(l)].Data;
            Tensor[] dQkv = [grads[HookNames.Q(l)], grads[HookNames.K(l)], grads[HookNames.V(l)]];
            for (int c = 0; c < 3; c++)
                for (int h = 0; h < H; h++)
                {
                    // ∂/∂(this head's own ln1 output) = ∂q_h · W_Q[h]ᵀ, then back through ln1 into its input copy.
                    block.Attn.HeadInputGradient(dQkv[c].Data, (QkvPart)c, h, dHead, dNormalized);
                    block.Ln1.Backward(residPre, dNormalized, gradients.AsSpan(graph.HeadBackward(l, h, (HeadInput)c) * rd, rd), default);
                }
            // ln2 reads resid_mid, or resid_pre in a parallel block.
            block.Ln2!.BackwardFromHook(cache[block.HasResidMid ? HookNames.ResidMid(l) : HookNames.ResidPre(l)].Data, grads[block.Ln2.NormalizedHook].Data,
                gradients.AsSpan(graph.MlpBackward(l) * rd, rd), default);
        }
        model.LnFinal.BackwardFromHook(cache[HookNames.ResidPost(cfg.NLayers - 1)].Data, grads[HookNames.LnFinalNormalized].Data,
            gradients.AsSpan(graph.LogitsBackward * rd, rd), default);
        return nodeOutputs ? NodeOutputs.FromCache(graph, cache) : null;
    }
}
