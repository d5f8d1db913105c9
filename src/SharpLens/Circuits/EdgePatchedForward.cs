using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Circuits;

/// <summary>
/// Exact edge patching: the forward pass in which every downstream node reads its own copy of the residual stream,
/// and a chosen set of edges carries the corrupted run's value of their parent instead of this run's. Each downstream
/// input = Σ over its upstream nodes of (this run's output, or the corrupted run's output when the edge is patched)
/// + the biases b_O / b_out already added before it — exactly EAP-IG's evaluate_graph and ACDC's edge intervention.
/// A head's q, k and v inputs are three separate copies (TransformerLens' use_split_qkv_input), each through its own
/// ln1, so patching a{0}.h{1}->a{2}.h{3}&lt;v&gt; changes only head 2.3's values.
/// Written against the model's components: the block's ln1, each head's own projection and the attention core
/// (<see cref="Attention"/>), the MLP sub-block, ln_final and the unembedding. A downstream node's patch delta costs one vector operation per edge on the cheaper side: its patched
/// edges, or (when most are patched) the running sum of all upstream differences minus its clean edges.
/// </summary>
public static class EdgePatchedForward
{
    /// <summary>
    /// Final-position logits of <paramref name="tokens"/> with the edges whose <paramref name="corruptedWeight"/> is
    /// non-zero reading weight·corrupted + (1 − weight)·current from their parent (1 = fully corrupted).
    /// </summary>
    /// <param name="model">the model.</param>
    /// <param name="graph">its graph.</param>
    /// <param name="tokens">[batch, pos] the prompts this run reads (usually the clean ones).</param>
    /// <param name="corruptedWeight">[n_backward, n_forward]: row = downstream node, column = upstream node; entries of
    /// non-edges are ignored.</param>
    /// <param name="corrupted">every node's output on the corrupted prompts (same padded shape as <paramref name="tokens"/>).</param>
    /// <param name="clean">optional: every node's output on <paramref name="tokens"/> unpatched; layers before the first
    /// patched downstream node are then copied instead of recomputed.</param>
    /// <param name="neededTokens">only these unembedding columns (compact logits [batch, count]), or null for all [batch, d_vocab].</param>
    public static Tensor FinalLogits(HookedTransformer model, CircuitGraph graph, TokenBatch tokens, float[] corruptedWeight,
        NodeOutputs corrupted, NodeOutputs? clean = null, IReadOnlyList<int>? neededTokens = null)
    {
        var cfg = model.Config;
        int batch = tokens.Batch, pos = tokens.Pos, d = cfg.DModel, rows = batch * pos, rd = rows * d;
        int H = cfg.NHeads, dh = cfg.DHead, nF = graph.NForward;
        if (corruptedWeight.Length != graph.NBackward * nF)
            throw new ShapeMismatchException($"edge weights: expected [{graph.NBackward}, {nF}], got {corruptedWeight.Length} values");
        if (corrupted.Batch != batch || corrupted.Pos != pos || corrupted.DModel != d || corrupted.NForward != nF)
            throw new ShapeMismatchException($"corrupted node outputs are {corrupted.Batch}x{corrupted.Pos}, the prompts {batch}x{pos}: pad both to the same length");

        int firstPatchedLayer = graph.NLayers;
        for (int n = 0; n < graph.NBackward && firstPatchedLayer == graph.NLayers; n++)
            if (AnyNonZero(corruptedWeight.AsSpan(n * nF, graph.Downstream[n].UpstreamCount))) firstPatchedLayer = graph.Downstream[n].Layer;
        if (clean is null) firstPatchedLayer = 0;

        // This run's outputs, their difference from the corrupted run node by node as they are produced, and the running
        // sum of those differences (a downstream node with most of its edges patched reads the sum minus its few clean edges).
        var diff = new float[(long)nF * rd];
        var diffSum = new float[rd];
        var current = clean is not null && firstPatchedLayer > 0 ? null : new float[rd];
        var resid = new float[rd];
        void Produced(int u, ReadOnlySpan<float> output)
        {
            var d = diff.AsSpan(u * rd, rd);
            TensorPrimitives.Subtract(corrupted.Node(u), output, d);
            TensorPrimitives.Add(diffSum, d, diffSum);
            TensorPrimitives.Add(resid, output, resid);
        }

        if (clean is not null && firstPatchedLayer > 0) Produced(0, clean.Node(0));
        else
        {
            model.EmbedRows(tokens, current!);
            Produced(0, current);
        }

        var qkv = new float[3][];
        for (int c = 0; c < 3; c++) qkv[c] = new float[rows * H * dh];
        var projected = new float[rows * dh];
        var delta = new float[rd];
        var headOut = new float[rd];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var block = model.Blocks[l];
            var attn = block.Attn;
            bool copy = clean is not null && l < firstPatchedLayer;
            if (copy)
            {
                for (int h = 0; h < H; h++) Produced(graph.HeadForward(l, h), clean!.Node(graph.HeadForward(l, h)));
                AddRowBias(resid, attn.OutputBias);
                Produced(graph.MlpForward(l), clean!.Node(graph.MlpForward(l)));
                continue;
            }

            // Heads: each of q, k, v reads resid + its own patch delta, through its own ln1.
            int upstream = graph.Downstream[graph.HeadBackward(l, 0, HeadInput.Q)].UpstreamCount;
            var sharedLn = Normalize(block.Ln1, resid, batch, pos, d);
            // A parallel block's MLP reads the same resid_pre as its heads, so its input is formed before they write
            // (diffSum must not hold their differences yet).
            var mlpIn = graph.ParallelAttnMlp ? MlpInput(graph, l, corruptedWeight, diff, diffSum, resid, rd) : null;
            for (int c = 0; c < 3; c++)
                for (int h = 0; h < H; h++)
                {
                    float[] ln = sharedLn;
                    if (Delta(corruptedWeight, nF, graph.HeadBackward(l, h, (HeadInput)c), upstream, diff, diffSum, rd, delta))
                    {
                        TensorPrimitives.Add(delta, resid, delta);
                        ln = Normalize(block.Ln1, delta, batch, pos, d);
                    }
                    attn.ProjectHead(ln, (QkvPart)c, h, projected);
                    for (int r = 0; r < rows; r++) projected.AsSpan(r * dh, dh).CopyTo(qkv[c].AsSpan((r * H + h) * dh));
                }
            var z = attn.ZFromProjections(qkv[0], qkv[1], qkv[2], batch, pos);
            for (int h = 0; h < H; h++)
            {
                attn.HeadResult(z, h, projected, headOut);
                Produced(graph.HeadForward(l, h), headOut);
            }
            AddRowBias(resid, attn.OutputBias);

            // MLP: a sequential block's reads resid (which now includes this layer's heads) + its patch delta.
            mlpIn ??= MlpInput(graph, l, corruptedWeight, diff, diffSum, resid, rd);
            Produced(graph.MlpForward(l), block.MlpBranch(new Tensor(mlpIn, batch, pos, d)).Data);
        }

        var logitsDelta = new float[rd];
        if (Delta(corruptedWeight, nF, graph.LogitsBackward, nF, diff, diffSum, rd, logitsDelta)) TensorPrimitives.Add(resid, logitsDelta, resid);
        var normalized = model.LnFinal.Forward(new Tensor(resid, batch, pos, d), ForwardContext.None);
        var finalRows = HookedTransformer.GatherFinal(normalized, tokens);
        if (neededTokens is null) return new Tensor(model.UnembedLayer.Forward(finalRows, batch), batch, cfg.DVocab);
        return Analysis.Attribution.MetricGradient.FinalLogits(model, finalRows, batch, neededTokens);
    }

    // m{layer}'s input: resid + its patch delta [rd].
    private static float[] MlpInput(CircuitGraph graph, int layer, float[] weights, float[] diff, float[] diffSum, float[] resid, int rd)
    {
        int row = graph.MlpBackward(layer);
        var input = new float[rd];
        if (Delta(weights, graph.NForward, row, graph.Downstream[row].UpstreamCount, diff, diffSum, rd, input)) TensorPrimitives.Add(input, resid, input);
        else resid.CopyTo(input, 0);
        return input;
    }

    // Σ_u weight[row, u]·diff[u] over the row's `upstream` parents into `delta` [rd]; false (delta untouched) when the row
    // has no weight. diffSum = Σ_u diff[u] over those parents, so a mostly-patched row costs one copy plus an axpy per
    // edge that is not fully patched: Σ_u w·diff = diffSum − Σ_u (1 − w)·diff. Either way the cost is the number of
    // edges on the cheaper side, not the number of parents.
    private static bool Delta(float[] weights, int nF, int row, int upstream, float[] diff, float[] diffSum, int rd, float[] delta)
    {
        var w = weights.AsSpan(row * nF, upstream);
        int nonZero = 0, notOne = 0;
        foreach (float v in w) { if (v != 0f) nonZero++; if (v != 1f) notOne++; }
        if (nonZero == 0) return false;
        bool direct = nonZero <= notOne + 1;
        if (direct) Array.Clear(delta);
        else diffSum.CopyTo(delta, 0);
        for (int u = 0; u < upstream; u++)
        {
            float coefficient = direct ? w[u] : w[u] - 1f;    // diffSum − (1 − w)·diff = diffSum + (w − 1)·diff
            if (coefficient == 0f) continue;
            var d = diff.AsSpan(u * rd, rd);
            if (coefficient == 1f) TensorPrimitives.Add(delta, d, delta);
            else if (coefficient == -1f) TensorPrimitives.Subtract(delta, d, delta);
            else TensorPrimitives.MultiplyAdd(d, coefficient, delta, delta);
        }
        return true;
    }

    private static bool AnyNonZero(ReadOnlySpan<float> x)
    {
        foreach (float v in x) if (v != 0f) return true;
        return false;
    }

    private static float[] Normalize(Normalization norm, float[] x, int batch, int pos, int d) =>
        norm.Forward(new Tensor(x, batch, pos, d), ForwardContext.None).Data;

    // x[r, :] += bias for every row r of the residual stream.
    private static void AddRowBias(float[] x, ReadOnlySpan<float> bias)
    {
        for (int off = 0; off < x.Length; off += bias.Length)
            TensorPrimitives.Add(x.AsSpan(off, bias.Length), bias, x.AsSpan(off, bias.Length));
    }
}
