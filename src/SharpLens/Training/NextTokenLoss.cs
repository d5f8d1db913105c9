using System.Numerics.Tensors;
using SharpLens.Tensors;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Training;

/// <summary>
/// Next-token cross-entropy as TransformerLens' <c>lm_cross_entropy_loss</c> computes it (log-softmax of the logits at
/// position p scored against token p+1), averaged over the predictions a <see cref="TrainingBatch.LossMask"/> counts,
/// with its gradient d loss / d logits = (softmax − onehot)·mask / count.
/// </summary>
public static class NextTokenLoss
{
    /// <summary>
    /// Σ over counted predictions of −log p(target), and d(that sum / <paramref name="normalizer"/>) / d logits into
    /// <paramref name="dLogits"/> (every entry written; rows that predict nothing are zero).
    /// </summary>
    /// <param name="logits">[batch, pos, d_vocab]</param>
    /// <param name="batch">the sequences the logits were computed from and which predictions count</param>
    /// <param name="normalizer">what the summed loss is divided by in the gradient (the counted predictions of the whole
    /// optimizer step, so that micro-batches add up to the gradient of one mean)</param>
    /// <param name="dLogits">[batch, pos, d_vocab] written, or null for the loss alone</param>
    /// <returns>the summed loss (double); divide by the count for the mean</returns>
    public static double Sum(Tensor logits, TrainingBatch batch, double normalizer, Tensor? dLogits)
    {
        var tokens = batch.Tokens;
        int b = tokens.Batch, pos = tokens.Pos, vocab = logits.Dim(2);
        logits.RequireShape("logits", b, pos, vocab);
        dLogits?.RequireShape("d logits", b, pos, vocab);
        var rowLoss = new double[b * pos];
        float scale = (float)(1 / normalizer);
        ParallelRows.For(b * pos, (long)b * pos * vocab * 4, (r0, r1) =>
        {
            float[]? scratch = dLogits is null ? new float[vocab] : null;
            for (int row = r0; row < r1; row++)
            {
                int seq = row / pos, p = row % pos;
                float weight = p + 1 < pos ? batch.LossMask[row + 1] : 0;
                var x = logits.Data.AsSpan(row * vocab, vocab);
                var dx = dLogits is null ? default : dLogits.Data.AsSpan(row * vocab, vocab);
                if (weight == 0)
                {
                    dx.Clear();
                    continue;
                }
                int target = tokens.Ids[row + 1];
                float max = TensorPrimitives.Max(x);
                // log Σ exp(x - max) in double over float exponentials: the softmax the gradient needs is computed once.
                Span<float> e = scratch ?? dx;
                TensorPrimitives.Subtract(x, max, e);
                TensorPrimitives.Exp(e, e);
                double sum = 0;
                foreach (float v in e) sum += v;
                rowLoss[row] = weight * (Math.Log(sum) + max - x[target]);
                if (scratch is not null) continue;
                TensorPrimitives.Multiply(e, (float)(weight * scale / sum), dx);
                dx[target] -= weight * scale;
            }
        });
        double total = 0;
        foreach (double l in rowLoss) total += l;
        return total;
    }
}
