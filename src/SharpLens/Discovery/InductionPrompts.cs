using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Tokenization;

namespace SharpLens.Discovery;

/// <summary>
/// Evaluation prompts for a model trained on the induction task (<c>sharplens train --task induction</c>): each prompt is
/// BOS and random tokens in which one segment of 3 or more tokens occurs twice, at a random place and gap, and the prompt
/// ends inside the second occurrence, so its next token is predictable only by finding the earlier copy of the final
/// token and reading what followed it. The segment's tokens occur nowhere else in the prompt. The corrupted prompt of
/// each pair is BOS and fresh random tokens of the same length (resample ablation: nothing to copy), and the metric is the
/// log-probability of the clean answer, so "clean − metric" is the task loss a circuit loses.
/// </summary>
public static class InductionPrompts
{
    /// <summary>
    /// <paramref name="prompts"/> clean/corrupted pairs of <paramref name="length"/> tokens each, drawn from token ids
    /// [0, <paramref name="dVocab"/>) without <paramref name="bos"/>; the same arguments give the same prompts.
    /// </summary>
    /// <param name="prompts">number of prompt pairs</param>
    /// <param name="length">tokens per prompt, BOS included (at least 8; at most the model's n_ctx)</param>
    /// <param name="dVocab">the model's vocabulary size (filler tokens may repeat one another, never a segment token)</param>
    /// <param name="bos">the BOS id, leading every prompt and never drawn</param>
    /// <param name="seed">random seed</param>
    public static PatchingInputs Create(int prompts, int length, int dVocab, int bos, int seed)
    {
        if (prompts < 1) throw new InvalidInputException($"induction prompts: need at least one prompt, got {prompts}");
        if (length < 8) throw new InvalidInputException($"induction prompts: need at least 8 tokens per prompt, got {length}");
        if ((uint)bos >= (uint)dVocab) throw new InvalidInputException($"induction prompts: BOS id {bos} is outside the vocabulary (0-{dVocab - 1})");
        int maxSegment = Math.Max(4, length / 4);
        if (dVocab < maxSegment + 2)
            throw new InvalidInputException($"induction prompts: a vocabulary of {dVocab} is too small for segments of up to {maxSegment} distinct tokens, BOS and a filler token");
        var random = new Random(seed);
        int Draw(HashSet<int> avoid)
        {
            int t;
            do t = random.Next(dVocab); while (t == bos || avoid.Contains(t));
            return t;
        }
        var clean = new List<IReadOnlyList<int>>(prompts);
        var corrupted = new List<IReadOnlyList<int>>(prompts);
        var answers = new int[prompts];
        for (int p = 0; p < prompts; p++)
        {
            int segment = random.Next(3, maxSegment + 1);
            int into = random.Next(0, segment - 1);            // the final token is segment[into]; the answer segment[into + 1]
            int second = length - 1 - into;
            int first = random.Next(1, second - segment + 1);  // the first copy ends before the second begins
            var segmentTokens = new HashSet<int>();
            var tokens = new int[segment];
            for (int i = 0; i < segment; i++) { tokens[i] = Draw(segmentTokens); segmentTokens.Add(tokens[i]); }
            var seq = new int[length];
            seq[0] = bos;
            for (int i = 1; i < length; i++) seq[i] = Draw(segmentTokens);
            for (int i = 0; i < segment; i++) seq[first + i] = tokens[i];
            for (int i = 0; i <= into; i++) seq[second + i] = tokens[i];
            answers[p] = tokens[into + 1];
            clean.Add(seq);
            var other = new int[length];
            other[0] = bos;
            for (int i = 1; i < length; i++) other[i] = Draw([]);
            corrupted.Add(other);
        }
        return new PatchingInputs(new TokenBatch(clean, bos), new TokenBatch(corrupted, bos), new LogProbMetric(answers));
    }
}
