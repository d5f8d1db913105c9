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

    /// <summary>A random unprocessed model (LayerNorm weights present) with a ragged, right-padded batch.</summary>
    public static (HookedTransformer Model, PatchingInputs Inputs) RaggedRandom()
    {
        var model = RandomModel.Create(new ModelConfig { NLayers = 3, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 20, NCtx = 8 }, seed: 11);
        var clean = new TokenBatch([[19, 3, 5, 7, 2], [19, 4, 5, 1], [19, 8, 9, 10, 11]], padId: 0);
        var corrupted = new TokenBatch([[19, 6, 5, 9, 2], [19, 4, 2, 1], [19, 8, 3, 12, 11]], padId: 0);
        return (model, new PatchingInputs(clean, corrupted, new LogitDiffMetric([(1, 2), (3, 4), (5, 6)])));
    }
}
