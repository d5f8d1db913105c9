using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tests.Analysis.Attribution;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Circuits;

/// <summary>Models and prompt pairs shared by the circuit tests.</summary>
public static class CircuitTestModels
{
    /// <summary>A fixture model with its clean/corrupted tokens and logit-difference metric.</summary>
    public static (HookedTransformer Model, PatchingInputs Inputs) Fixture(string name)
    {
        var model = Fixtures.Load(name, processed: true);
        var t = Fixtures.Tokens(name);
        return (model, new PatchingInputs(t.CleanBatch, t.CorruptedBatch, new LogitDiffMetric(t.AnswerPairs)));
    }

    /// <summary>
    /// Token ids for tiny-b whose effect is clear: each clean prompt ends in its correct answer, the corrupted one in the
    /// wrong answer. tiny-b's unembedding is its embedding (tied weights), so the direct path favours the last token and
    /// clean − corrupted logit difference is large on every prompt (the faithfulness tests need a gap that is not noise;
    /// tiny-b's fixture prompts, which differ in the middle, have a gap indistinguishable from zero).
    /// </summary>
    public static (int[][] Clean, int[][] Corrupted, int[][] Answers) CopyingTokens()
    {
        var clean = new int[8][];
        var corrupted = new int[8][];
        var answers = new int[8][];
        for (int i = 0; i < 8; i++)
        {
            int correct = 60 + 3 * i, wrong = 61 + 3 * i;
            clean[i] = [119, 3 + i, 20 + 2 * i, 40 + i, correct];
            corrupted[i] = [119, 3 + i, 20 + 2 * i, 40 + i, wrong];
            answers[i] = [correct, wrong];
        }
        return (clean, corrupted, answers);
    }

    /// <summary>tiny-b with <see cref="CopyingTokens"/>.</summary>
    public static (HookedTransformer Model, PatchingInputs Inputs) Copying()
    {
        var (clean, corrupted, answers) = CopyingTokens();
        return (Fixtures.Load("tiny-b", processed: true), new PatchingInputs(new TokenBatch(clean.Select(c => (IReadOnlyList<int>)c).ToList(), 119),
            new TokenBatch(corrupted.Select(c => (IReadOnlyList<int>)c).ToList(), 119), new LogitDiffMetric(answers.Select(a => (a[0], a[1])).ToArray())));
    }

    /// <summary>A random unprocessed model (LayerNorm weights present) with a ragged, right-padded batch.</summary>
    public static (HookedTransformer Model, PatchingInputs Inputs) RaggedRandom()
    {
        var model = RandomModel.Create(new ModelConfig { NLayers = 3, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 20, NCtx = 8 }, seed: 11);
        var clean = new TokenBatch([[19, 3, 5, 7, 2], [19, 4, 5, 1], [19, 8, 9, 10, 11]], padId: 0);
        var corrupted = new TokenBatch([[19, 6, 5, 9, 2], [19, 4, 2, 1], [19, 8, 3, 12, 11]], padId: 0);
        return (model, new PatchingInputs(clean, corrupted, new LogitDiffMetric([(1, 2), (3, 4), (5, 6)])));
    }
}
