using SharpLens.Tensors;

namespace SharpLens.Analysis.Metrics;

/// <summary>Logit difference: logit(correct) - logit(wrong) at each prompt's final position.</summary>
public static class LogitDiff
{
    /// <summary>Per-prompt logit difference. <paramref name="finalLogits"/> is [batch, d_vocab];
    /// <paramref name="answers"/> has one (correct, wrong) pair per prompt.</summary>
    public static float[] PerPrompt(Tensor finalLogits, IReadOnlyList<(int Correct, int Wrong)> answers)
        => PerPrompt(LogitView.Create(finalLogits), answers);

    /// <summary>Per-prompt logit difference read through a <see cref="LogitView"/> (full or compact logits).</summary>
    public static float[] PerPrompt(LogitView logits, IReadOnlyList<(int Correct, int Wrong)> answers)
    {
        LogitMetrics.RequireCount("answers", answers.Count, logits.Batch);
        var result = new float[logits.Batch];
        for (int b = 0; b < result.Length; b++)
            result[b] = logits[b, answers[b].Correct] - logits[b, answers[b].Wrong];
        return result;
    }

    /// <summary>Mean over prompts of <see cref="PerPrompt(Tensor, IReadOnlyList{ValueTuple{int, int}})"/>.</summary>
    public static float Mean(Tensor finalLogits, IReadOnlyList<(int Correct, int Wrong)> answers)
    {
        var pp = PerPrompt(finalLogits, answers);
        if (pp.Length == 0) throw new InvalidInputException("logit difference mean over an empty batch is undefined; pass at least one prompt");
        double sum = 0;
        foreach (float v in pp) sum += v;
        return (float)(sum / pp.Length);
    }
}
