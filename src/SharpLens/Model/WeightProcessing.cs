using SharpLens.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Model;

/// <summary>Which of TransformerLens' weight-processing steps to apply (defaults = from_pretrained's).</summary>
public sealed record WeightProcessingOptions
{
    /// <summary>fold_ln: fold each LayerNorm's w and b into the weights that read it (the LayerNorm then only centres and scales).</summary>
    public bool FoldLn { get; init; } = true;
    /// <summary>center_writing_weights: make every matrix writing to the residual stream (W_E, W_pos, W_O, W_out and
    /// their biases) mean-zero along d_model.</summary>
    public bool CenterWritingWeights { get; init; } = true;
    /// <summary>center_unembed: subtract each row's mean from W_U and b_U (softmax is unchanged).</summary>
    public bool CenterUnembed { get; init; } = true;
    /// <summary>fold_value_biases: fold b_V through W_O into b_O (attention rows sum to 1, so outputs are unchanged).</summary>
    public bool FoldValueBiases { get; init; } = true;
    /// <summary>
    /// TransformerLens' refactor_factored_attn_matrices (off by default, as in from_pretrained): re-factor
    /// each head's QK (biases included) and OV circuits into "even" factors aligned with the singular
    /// vectors of W_Q·W_Kᵀ and W_V·W_O, folding b_V into b_O. Outputs are unchanged. See <see cref="FactoredAttention"/>.
    /// </summary>
    public bool RefactorFactoredAttnMatrices { get; init; }

    /// <summary>TransformerLens' from_pretrained defaults: fold_ln, both centrings and value-bias folding.</summary>
    public static WeightProcessingOptions Default => new();
    /// <summary>Unprocessed Hugging Face weights (from_pretrained_no_processing).</summary>
    public static WeightProcessingOptions None => new() { FoldLn = false, CenterWritingWeights = false, CenterUnembed = false, FoldValueBiases = false };
    /// <summary>Whether any step is on.</summary>
    public bool Any => FoldLn || CenterWritingWeights || CenterUnembed || FoldValueBiases || RefactorFactoredAttnMatrices;
}

/// <summary>
/// TransformerLens' process_weights, in its order: fold_ln, center_writing_weights, center_unembed,
/// fold_value_biases and (optionally) refactor_factored_attn_matrices, as TransformerLens applies them per
/// normalization type: for LayerNorm models fold_ln folds w and b and centres the reading weights; for RMSNorm models
/// it folds w only (no bias, no centring) and center_writing_weights is skipped with TransformerLens' warning (the
/// residual stream is not centred by RMSNorm). Each step leaves the model's log-probabilities unchanged; the logits
/// change only by a per-position constant (center_unembed).
/// </summary>
public static class WeightProcessing
{
    /// <param name="inPlace">Edit <paramref name="raw"/> itself instead of a copy (loading does, to keep peak memory at one copy).</param>
    /// <param name="raw">Weights as loaded from the checkpoint.</param>
    /// <param name="options">Which of TransformerLens' processing steps to apply.</param>
    /// <param name="config">The model's configuration (normalization type, rotary); null means GPT-2's (LayerNorm, learned positions).</param>
    /// <param name="warn">Receives TransformerLens' warnings (a step skipped for this architecture), or null.</param>
    public static TransformerWeights Process(TransformerWeights raw, WeightProcessingOptions options, bool inPlace = false,
        ModelConfig? config = null, Action<string>? warn = null)
    {
        bool rms = config?.UsesRmsNorm == true;
        if (options.RefactorFactoredAttnMatrices && config?.IsRotary == true)
            throw new InvalidInputException("refactor_factored_attn_matrices cannot be used with rotary positions (the QK circuit depends on the query's and key's positions, as TransformerLens says): leave it off for this model");
        var w = inPlace ? raw : raw.Clone();
        if (options.FoldLn) FoldLayerNorm(w, centre: !rms);
        if (options.CenterWritingWeights)
        {
            if (rms || config?.FinalRms == true)
                warn?.Invoke("center_writing_weights is skipped for this model: it uses RMSNorm, which does not centre the residual stream (as in TransformerLens)");
            else CenterWritingWeights(w);
        }
        if (options.CenterUnembed) CenterUnembed(w);
        if (options.FoldValueBiases) FoldValueBiases(w);
        if (options.RefactorFactoredAttnMatrices) FactoredAttention.Refactor(w);
        return w;
    }

    /// <summary>
    /// Folds each LayerNorm's w into the reading weights and its b into their biases, then centres the
    /// reading weights over d_model (their input is centred anyway, so this only removes a dead direction).
    /// </summary>
    public static void FoldLayerNorm(TransformerWeights w) => FoldLayerNorm(w, centre: true);

    /// <summary>Folds each norm's w (and b, when it has one) into the weights that read its output: W_Q, W_K, W_V (and
    /// their biases) for ln1, W_in and W_gate (and b_in of a plain MLP) for ln2, W_U and b_U for ln_final; with
    /// <paramref name="centre"/> (LayerNorm) the reading weights are then centred over d_model.</summary>
    /// <param name="w">the weights, edited in place; the norms' w and b become null (LNPre / RMSPre)</param>
    /// <param name="centre">centre the reading weights (LayerNorm models; not for RMSNorm, whose input is not centred)</param>
    public static void FoldLayerNorm(TransformerWeights w, bool centre)
    {
        foreach (var block in w.Blocks)
        {
            if (block.Ln1W is not null)
            {
                foreach (var (weight, bias) in new[] { (block.W_Q, block.b_Q), (block.W_K, block.b_K), (block.W_V, block.b_V) })
                {
                    int heads = weight.Dim(0), d = weight.Dim(1), dh = weight.Dim(2);
                    for (int h = 0; h < heads; h++)
                        FoldInto(weight.Data.AsSpan(h * d * dh, d * dh), bias.Data.AsSpan(h * dh, dh), block.Ln1W.Data, block.Ln1B?.Data, centre);
                }
                block.Ln1W = block.Ln1B = null;
            }
            if (block.Ln2W is not null && block.W_in is not null)
            {
                // A gated MLP's b_in is added after the product, so nothing folds into it; a plain MLP's b_in takes ln2's b.
                bool gated = block.W_gate is not null;
                if (gated && block.Ln2B is not null)
                    throw new InvalidInputException("fold_ln cannot fold ln2's bias into a gated MLP (its gate has no bias): load this model without weight processing (--raw-weights)");
                FoldInto(block.W_in.Data, gated ? new float[block.W_in.Dim(1)] : block.b_in!.Data, block.Ln2W.Data, block.Ln2B?.Data, centre);
                if (block.W_gate is { } gate) FoldInto(gate.Data, new float[gate.Dim(1)], block.Ln2W.Data, block.Ln2B?.Data, centre);
                block.Ln2W = block.Ln2B = null;
            }
        }
        if (w.LnFinalW is not null)
        {
            FoldInto(w.W_U.Data, w.b_U.Data, w.LnFinalW.Data, w.LnFinalB?.Data, centre);
            w.LnFinalW = w.LnFinalB = null;
        }
    }

    // matrix [d, n] reads a norm's output: b += lnB·matrix (when the norm has a bias); matrix = diag(lnW)·matrix; with
    // centre, centre each column over d.
    private static void FoldInto(Span<float> matrix, Span<float> bias, ReadOnlySpan<float> lnW, ReadOnlySpan<float> lnB, bool centre)
    {
        int d = lnW.Length, n = bias.Length;
        for (int i = 0; i < d; i++)
        {
            var row = matrix.Slice(i * n, n);
            if (!lnB.IsEmpty) TensorPrimitives.MultiplyAdd(row, lnB[i], bias, bias);
            TensorPrimitives.Multiply(row, lnW[i], row);
        }
        if (!centre) return;
        var mean = new float[n];
        for (int i = 0; i < d; i++) TensorPrimitives.Add(mean, matrix.Slice(i * n, n), mean);
        TensorPrimitives.Divide(mean, d, mean);
        for (int i = 0; i < d; i++) TensorPrimitives.Subtract(matrix.Slice(i * n, n), mean, matrix.Slice(i * n, n));
    }

    /// <summary>Removes the mean over d_model from everything that writes to the residual stream.</summary>
    public static void CenterWritingWeights(TransformerWeights w)
    {
        CenterRows(w.W_E.Data, w.W_E.Dim(1));
        if (w.W_pos is not null) CenterRows(w.W_pos.Data, w.W_pos.Dim(1));
        foreach (var block in w.Blocks)
        {
            CenterRows(block.W_O.Data, block.W_O.Dim(2));
            CenterRows(block.b_O.Data, block.b_O.Length);
            if (block.W_out is not null) CenterRows(block.W_out.Data, block.W_out.Dim(1));
            if (block.b_out is not null) CenterRows(block.b_out.Data, block.b_out.Length);
        }
    }

    /// <summary>Removes the mean over the vocabulary from W_U and b_U (softmax is shift-invariant).</summary>
    public static void CenterUnembed(TransformerWeights w)
    {
        CenterRows(w.W_U.Data, w.W_U.Dim(1));
        CenterRows(w.b_U.Data, w.b_U.Length);
    }

    /// <summary>b_O += Σ_h b_V[h]·W_O[h]; b_V = 0 (the pattern sums to one, so b_V's contribution is a constant).</summary>
    public static void FoldValueBiases(TransformerWeights w)
    {
        foreach (var block in w.Blocks) FoldValueBiases(block);
    }

    /// <summary>One block's <see cref="FoldValueBiases(TransformerWeights)"/>; with grouped-query attention query head h
    /// reads value head h / (n_heads / n_key_value_heads), whose b_V it folds.</summary>
    public static void FoldValueBiases(BlockWeights block)
    {
        int heads = block.W_O.Dim(0), dh = block.W_O.Dim(1), d = block.W_O.Dim(2), group = heads / block.b_V.Dim(0);
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < dh; j++)
                TensorPrimitives.MultiplyAdd(block.W_O.Data.AsSpan((h * dh + j) * d, d), block.b_V.Data[h / group * dh + j], block.b_O.Data, block.b_O.Data);
        Array.Clear(block.b_V.Data);
    }

    private static void CenterRows(Span<float> data, int width)
    {
        for (int off = 0; off < data.Length; off += width)
        {
            var row = data.Slice(off, width);
            TensorPrimitives.Subtract(row, TensorPrimitives.Sum(row) / width, row);
        }
    }
}
