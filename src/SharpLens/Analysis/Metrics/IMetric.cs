using SharpLens.Tensors;

namespace SharpLens.Analysis.Metrics;

/// <summary>
/// A per-prompt score over final-position logits, the thing activation patching measures.
/// </summary>
/// <remarks>
/// <para><see cref="NeededTokens"/> lists the vocabulary ids the metric reads. When it is non-null, a patching
/// engine may skip the full unembedding and call <see cref="PerPrompt"/> with a compact [batch, NeededTokens.Count]
/// tensor whose column j holds the logit of token NeededTokens[j]; the metric must then give the same values as on
/// the full [batch, d_vocab] logits. When it is null, the metric needs the full distribution and is always
/// called with [batch, d_vocab].</para>
/// <para>Implementations read logits through <see cref="LogitView.Create"/> with their own NeededTokens, which
/// handles both forms.</para>
/// </remarks>
public interface IMetric
{
    /// <summary>One score per prompt from final logits [batch, d_vocab] or, if <see cref="NeededTokens"/> is
    /// non-null, [batch, NeededTokens.Count].</summary>
    float[] PerPrompt(Tensor finalLogits);

    /// <summary>Vocabulary ids the metric reads, in compact-column order; null when it needs the full distribution.</summary>
    IReadOnlyList<int>? NeededTokens { get; }
}

/// <summary>Logit difference logit(correct) - logit(wrong) per prompt. Needs only the answer columns.</summary>
public sealed class LogitDiffMetric : IMetric
{
    private readonly (int Correct, int Wrong)[] _answers;
    private readonly int[] _needed;

    /// <summary>A metric over the given (correct, wrong) token ids, one pair per prompt.</summary>
    public LogitDiffMetric(IReadOnlyList<(int Correct, int Wrong)> answers)
    {
        _answers = answers.ToArray();
        var seen = new HashSet<int>();
        var needed = new List<int>();
        foreach (var (c, w) in _answers)
        {
            if (c < 0 || w < 0) throw new InvalidInputException($"answer token ids must be non-negative, got ({c}, {w})");
            if (seen.Add(c)) needed.Add(c);
            if (seen.Add(w)) needed.Add(w);
        }
        _needed = needed.ToArray();
    }

    /// <summary>The (correct, wrong) pair of each prompt.</summary>
    public IReadOnlyList<(int Correct, int Wrong)> Answers => _answers;
    /// <summary>Distinct answer ids, in order of first appearance (correct before wrong).</summary>
    public IReadOnlyList<int>? NeededTokens => _needed;

    /// <inheritdoc/>
    public float[] PerPrompt(Tensor finalLogits) => LogitDiff.PerPrompt(LogitView.Create(finalLogits, _needed), _answers);
}

/// <summary>Log-probability of each prompt's answer token (log-softmax over the full vocabulary).</summary>
public sealed class LogProbMetric(IReadOnlyList<int> answerIds) : IMetric
{
    private readonly int[] _answerIds = answerIds.ToArray();
    /// <summary>The answer token id of each prompt.</summary>
    public IReadOnlyList<int> AnswerIds => _answerIds;
    /// <summary>Null: log-softmax needs every logit.</summary>
    public IReadOnlyList<int>? NeededTokens => null;
    /// <inheritdoc/>
    public float[] PerPrompt(Tensor finalLogits) => LogitMetrics.LogProb(finalLogits, _answerIds);
}

/// <summary>Probability of each prompt's answer token (softmax over the full vocabulary).</summary>
public sealed class ProbabilityMetric(IReadOnlyList<int> answerIds) : IMetric
{
    private readonly int[] _answerIds = answerIds.ToArray();
    /// <summary>The answer token id of each prompt.</summary>
    public IReadOnlyList<int> AnswerIds => _answerIds;
    /// <summary>Null: softmax needs every logit.</summary>
    public IReadOnlyList<int>? NeededTokens => null;
    /// <inheritdoc/>
    public float[] PerPrompt(Tensor finalLogits) => LogitMetrics.Probability(finalLogits, _answerIds);
}

/// <summary>KL(clean || patched) per prompt, against fixed clean final logits [batch, d_vocab].</summary>
public sealed class KlMetric(Tensor cleanFinalLogits) : IMetric
{
    /// <summary>[batch, d_vocab] the clean run's final-position logits, the reference distribution.</summary>
    public Tensor CleanFinalLogits { get; } = cleanFinalLogits;
    /// <summary>Null: KL needs the full distribution.</summary>
    public IReadOnlyList<int>? NeededTokens => null;
    /// <inheritdoc/>
    public float[] PerPrompt(Tensor finalLogits) => LogitMetrics.KlDivergence(CleanFinalLogits, finalLogits);
}

/// <summary>
/// Any user metric over final logits. With <paramref name="neededTokens"/> null (the default) the function always
/// receives [batch, d_vocab]; when given, it may receive the compact [batch, neededTokens.Count] form and should
/// read it through <c>LogitView.Create(logits, neededTokens)</c>.
/// </summary>
public sealed class DelegateMetric(Func<Tensor, float[]> perPrompt, IReadOnlyList<int>? neededTokens = null) : IMetric
{
    private readonly Func<Tensor, float[]> _perPrompt = perPrompt ?? throw new ArgumentNullException(nameof(perPrompt));
    /// <inheritdoc/>
    public IReadOnlyList<int>? NeededTokens { get; } = neededTokens?.ToArray();

    /// <summary>Calls the function; a null result or one without exactly one score per prompt is an <see cref="InvalidInputException"/>.</summary>
    public float[] PerPrompt(Tensor finalLogits)
    {
        var result = _perPrompt(finalLogits) ?? throw new InvalidInputException("the metric function returned null; return one score per prompt");
        if (finalLogits.Rank >= 1 && result.Length != finalLogits.Dim(0))
            throw new InvalidInputException($"the metric function returned {result.Length} scores for a batch of {finalLogits.Dim(0)} prompts; return one score per prompt");
        return result;
    }
}
