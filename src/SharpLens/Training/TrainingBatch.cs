using SharpLens.Tokenization;

namespace SharpLens.Training;

/// <summary>
/// One batch of training sequences and which predictions count: <see cref="LossMask"/>[b, t] is 1 when predicting token
/// t of sequence b (from positions ..t-1) is part of the loss, 0 when it is not (position 0, padding, the unpredictable
/// tokens of a synthetic task).
/// </summary>
/// <param name="Tokens">[batch, pos] token ids, each sequence starting with BOS</param>
/// <param name="LossMask">[batch·pos] 1 or 0 per target token; entry 0 of each sequence is always 0</param>
public sealed record TrainingBatch(TokenBatch Tokens, float[] LossMask)
{
    /// <summary>Number of predictions that count (Σ LossMask).</summary>
    public double Targets => LossMask.Sum(x => (double)x);

    /// <summary>A batch of equal-length sequences in which every next-token prediction counts (text).</summary>
    /// <param name="sequences">the sequences, equally long</param>
    public static TrainingBatch EveryPosition(IReadOnlyList<int[]> sequences)
    {
        var tokens = new TokenBatch(sequences);
        var mask = new float[tokens.Batch * tokens.Pos];
        for (int b = 0; b < tokens.Batch; b++)
            for (int p = 1; p < tokens.Lengths[b]; p++) mask[b * tokens.Pos + p] = 1;
        return new TrainingBatch(tokens, mask);
    }
}
