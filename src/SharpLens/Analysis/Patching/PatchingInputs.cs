using SharpLens.Analysis.Metrics;
using SharpLens.Tokenization;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// The two runs patching compares and the metric it reports. Clean and corrupted must pair up prompt by prompt
/// with equal lengths, so that a position means the same token slot in both.
/// </summary>
public sealed record PatchingInputs
{
    /// <summary>[prompt, pos] clean prompts.</summary>
    public TokenBatch Clean { get; }
    /// <summary>[prompt, pos] corrupted prompts, same shape and per-prompt lengths as <see cref="Clean"/>.</summary>
    public TokenBatch Corrupted { get; }
    /// <summary>Per-prompt score of the final-position logits (e.g. <see cref="LogitDiffMetric"/>).</summary>
    public IMetric Metric { get; }

    /// <summary>Pairs <paramref name="clean"/> with <paramref name="corrupted"/> (same number of prompts and the same
    /// length per prompt, else an <see cref="InvalidInputException"/>) under <paramref name="metric"/>.</summary>
    public PatchingInputs(TokenBatch clean, TokenBatch corrupted, IMetric metric)
    {
        Clean = clean ?? throw new InvalidInputException("clean prompts are missing");
        Corrupted = corrupted ?? throw new InvalidInputException("corrupted prompts are missing");
        Metric = metric ?? throw new InvalidInputException("the patching metric is missing: pass e.g. a LogitDiffMetric");
        if (clean.Batch != corrupted.Batch)
            throw new InvalidInputException(
                $"{clean.Batch} clean prompts but {corrupted.Batch} corrupted prompts: patching pairs them one to one; pass as many of each");
        for (int b = 0; b < clean.Batch; b++)
            if (clean.Lengths[b] != corrupted.Lengths[b])
                throw new InvalidInputException(
                    $"clean prompt {b} has {clean.Lengths[b]} tokens but corrupted prompt {b} has {corrupted.Lengths[b]}: " +
                    "patching by position needs aligned prompts; pad or choose prompts of equal length");
        if (clean.Pos != corrupted.Pos)
            throw new InvalidInputException($"clean batch is padded to {clean.Pos} positions but corrupted to {corrupted.Pos}: pad both to the same length");
    }

    /// <summary>Number of prompt pairs.</summary>
    public int Prompts => Clean.Batch;
}
