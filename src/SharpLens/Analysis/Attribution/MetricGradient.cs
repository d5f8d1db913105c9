using SharpLens.Analysis.Metrics;
using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// d (mean over prompts of a metric) / d final logits, and the step back to d / d ln_final.hook_normalized at each
/// prompt's final position. Analytic, no finite differences. Known metrics: <see cref="LogitDiffMetric"/> (needs
/// only two W_U columns per prompt), <see cref="LogProbMetric"/>, <see cref="ProbabilityMetric"/>, <see cref="KlMetric"/>;
/// any other metric needs a logit-gradient delegate.
/// </summary>
public static class MetricGradient
{
    /// <summary>
    /// Given final logits [batch, d_vocab], returns d(mean metric)/d logits [batch, d_vocab]. Pass one for metrics
    /// this class does not know (e.g. <see cref="DelegateMetric"/>).
    /// </summary>
    public delegate Tensor LogitGradient(Tensor finalLogits);

    /// <summary>Final-position logits: compact [batch, NeededTokens.Count] when the metric names its tokens, else full [batch, d_vocab].</summary>
    /// <param name="finalRows">ln_final.hook_normalized at each prompt's final position [batch, d_model]</param>
    /// <param name="neededTokens">Vocabulary columns to compute, or null for all of them.</param>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="batch">Number of prompts (rows of <paramref name="finalRows"/>).</param>
    public static Tensor FinalLogits(HookedTransformer model, ReadOnlySpan<float> finalRows, int batch, IReadOnlyList<int>? neededTokens)
    {
        if (neededTokens is null)
            return new Tensor(model.UnembedLayer.Forward(finalRows, batch), batch, model.Config.DVocab);
        return new UnembedColumns(model.UnembedLayer, neededTokens).Forward(finalRows, batch);
    }

    /// <summary>d(mean metric)/d final logits [batch, d_vocab] for the known metric types; null for others.</summary>
    public static Tensor? ForLogits(IMetric metric, Tensor fullFinalLogits)
    {
        int batch = fullFinalLogits.Dim(0), vocab = fullFinalLogits.Dim(1);
        var g = Tensor.Zeros(batch, vocab);
        switch (metric)
        {
            case LogitDiffMetric ld:
                for (int b = 0; b < batch; b++)
                {
                    g.Data[b * vocab + ld.Answers[b].Correct] += 1f / batch;
                    g.Data[b * vocab + ld.Answers[b].Wrong] -= 1f / batch;
                }
                return g;
            case LogProbMetric lp:
                for (int b = 0; b < batch; b++)
                {
                    var row = g.Data.AsSpan(b * vocab, vocab);
                    Kernels.Softmax(fullFinalLogits.Data.AsSpan(b * vocab, vocab), row);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(row, -1f / batch, row);
                    row[lp.AnswerIds[b]] += 1f / batch;
                }
                return g;
            case ProbabilityMetric pm:
                for (int b = 0; b < batch; b++)
                {
                    var row = g.Data.AsSpan(b * vocab, vocab);
                    Kernels.Softmax(fullFinalLogits.Data.AsSpan(b * vocab, vocab), row);
                    float pa = row[pm.AnswerIds[b]];
                    System.Numerics.Tensors.TensorPrimitives.Multiply(row, -pa / batch, row);
                    row[pm.AnswerIds[b]] += pa / batch;
                }
                return g;
            case KlMetric kl:
                // d KL(p_clean || softmax(q)) / d q = softmax(q) - p_clean.
                var p = new float[vocab];
                for (int b = 0; b < batch; b++)
                {
                    var row = g.Data.AsSpan(b * vocab, vocab);
                    Kernels.Softmax(fullFinalLogits.Data.AsSpan(b * vocab, vocab), row);
                    Kernels.Softmax(kl.CleanFinalLogits.Data.AsSpan(b * vocab, vocab), p);
                    System.Numerics.Tensors.TensorPrimitives.Subtract(row, p, row);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(row, 1f / batch, row);
                }
                return g;
            default:
                return null;
        }
    }

    /// <summary>
    /// d(mean metric)/d ln_final.hook_normalized at each prompt's final position [batch, d_model].
    /// For logit difference this is (W_U[:, correct] - W_U[:, wrong]) / batch per prompt, the backward step of the
    /// two-column unembedding (<see cref="UnembedColumns.Backward"/>), without the full unembedding.
    /// </summary>
    /// <param name="finalRows">ln_final.hook_normalized at the final positions [batch, d_model] (read by non-linear metrics)</param>
    /// <param name="batch">Number of prompts (rows of <paramref name="finalRows"/>).</param>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="metric">The metric being differentiated, averaged over prompts.</param>
    /// <param name="logitGradient">d(mean metric)/d logits for metrics this class does not know, or null.</param>
    public static float[] ForFinalNormalized(HookedTransformer model, IMetric metric, ReadOnlySpan<float> finalRows, int batch,
        LogitGradient? logitGradient = null)
    {
        if (logitGradient is null && metric is LogitDiffMetric ld)
        {
            // Two unembedding columns per prompt: d/dlogits is +1/batch at the correct and -1/batch at the wrong one.
            LogitMetrics.RequireCount("answers", ld.Answers.Count, batch);
            var columns = new UnembedColumns(model.UnembedLayer, ld.Answers.SelectMany(a => new[] { a.Correct, a.Wrong }).ToArray());
            var dLogits = new float[batch * 2 * batch];
            for (int b = 0; b < batch; b++)
            {
                dLogits[b * 2 * batch + 2 * b] = 1f / batch;
                dLogits[b * 2 * batch + 2 * b + 1] = -1f / batch;
            }
            return columns.Backward(dLogits, batch);
        }
        int d = model.Config.DModel, vocab = model.Config.DVocab;
        var logits = FinalLogits(model, finalRows, batch, null);
        var g = logitGradient?.Invoke(logits) ?? ForLogits(metric, logits)
            ?? throw new InvalidInputException(
                $"attribution patching does not know the gradient of {metric.GetType().Name}: pass a logit-gradient delegate (d mean metric / d final logits)");
        g.RequireShape("metric gradient d metric / d final logits", batch, vocab);
        // [batch, vocab] · W_Uᵀ: W_U [d, vocab] is the transposed operand [n = d, k = vocab].
        var result = new float[batch * d];
        Gemm.Multiply(g.Data, model.Weights.W_U.Data, result, batch, vocab, d, transposeB: true);
        return result;
    }
}
