using SharpLens.Tensors;

namespace SharpLens.Analysis.Metrics;

/// <summary>
/// Softmax-based metrics over final-position logits [batch, d_vocab]. All are computed in double through a
/// max-shifted log-sum-exp, so they stay finite for large logits.
/// </summary>
public static class LogitMetrics
{
    /// <summary>Per-prompt log-probability log softmax(logits[b])[answerIds[b]].</summary>
    public static float[] LogProb(Tensor finalLogits, IReadOnlyList<int> answerIds)
    {
        var view = LogitView.Create(finalLogits);
        RequireCount("answer ids", answerIds.Count, view.Batch);
        int vocab = finalLogits.Dim(1);
        var result = new float[view.Batch];
        for (int b = 0; b < result.Length; b++)
        {
            int col = view.ColumnOf(answerIds[b]);
            var row = finalLogits.Data.AsSpan(b * vocab, vocab);
            result[b] = (float)(row[col] - LogSumExp(row));
        }
        return result;
    }

    /// <summary>Per-prompt probability softmax(logits[b])[answerIds[b]].</summary>
    public static float[] Probability(Tensor finalLogits, IReadOnlyList<int> answerIds)
    {
        var lp = LogProb(finalLogits, answerIds);
        for (int i = 0; i < lp.Length; i++) lp[i] = MathF.Exp(lp[i]);
        return lp;
    }

    /// <summary>
    /// Per-prompt KL(clean || patched) = sum_v p_clean(v) (log p_clean(v) - log p_patched(v)), in nats.
    /// Both tensors are [batch, d_vocab] with the same shape. Zero when the distributions agree.
    /// </summary>
    public static float[] KlDivergence(Tensor cleanFinalLogits, Tensor finalLogits)
    {
        if (cleanFinalLogits.Rank != 2 || !cleanFinalLogits.SameShape(finalLogits))
            throw new ShapeMismatchException($"KL divergence needs clean and patched final logits of the same [batch, d_vocab] shape, got {cleanFinalLogits.ShapeString} and {finalLogits.ShapeString}");
        int batch = finalLogits.Dim(0), vocab = finalLogits.Dim(1);
        var result = new float[batch];
        for (int b = 0; b < batch; b++)
        {
            var p = cleanFinalLogits.Data.AsSpan(b * vocab, vocab);
            var q = finalLogits.Data.AsSpan(b * vocab, vocab);
            double lseP = LogSumExp(p), lseQ = LogSumExp(q), kl = 0;
            for (int v = 0; v < vocab; v++)
            {
                double logP = p[v] - lseP;
                double prob = Math.Exp(logP);
                if (prob > 0) kl += prob * (logP - (q[v] - lseQ));
            }
            result[b] = (float)Math.Max(0, kl);
        }
        return result;
    }

    /// <summary>log sum exp(x), shifted by max(x) for stability; computed in double.</summary>
    internal static double LogSumExp(ReadOnlySpan<float> x)
    {
        if (x.Length == 0) throw new InvalidInputException("log-softmax over an empty vocabulary is undefined");
        float max = float.NegativeInfinity;
        foreach (float v in x) if (v > max) max = v;
        if (float.IsNegativeInfinity(max)) return double.NegativeInfinity;
        if (!float.IsFinite(max)) return max;
        double sum = 0;
        foreach (float v in x) sum += Math.Exp(v - (double)max);
        return max + Math.Log(sum);
    }

    internal static void RequireCount(string what, int got, int batch)
    {
        if (got != batch)
            throw new InvalidInputException($"{what}: got {got} entries for a batch of {batch} prompts; pass exactly one per prompt");
    }
}
