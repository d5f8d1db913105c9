using SharpLens.Analysis;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>Exact mode gives Plain mode's numbers for every patch kind, both directions, ragged prompts, both alignments.</summary>
public class PatchingExactTests
{
    private static readonly ModelConfig SmallConfig = new()
    {
        NLayers = 3, DModel = 32, NHeads = 4, DHead = 8, DMlp = 48, DVocab = 40, NCtx = 16, ModelName = "random",
    };

    /// <summary>A random model and ragged prompts (lengths 7, 5, 6) that differ at positions 2 and 3 (and 4 in prompt 0).</summary>
    private static (HookedTransformer, PatchingInputs) Ragged(IMetric? metric = null)
    {
        var model = RandomWeights.CreateModel(SmallConfig, seed: 3);
        int[][] clean = [[39, 5, 7, 9, 11, 13, 15], [39, 6, 8, 10, 12], [39, 21, 22, 23, 24, 25]];
        int[][] corrupted = [[39, 5, 17, 19, 1, 13, 15], [39, 6, 18, 20, 12], [39, 21, 2, 3, 24, 25]];
        metric ??= new LogitDiffMetric([(1, 2), (3, 4), (5, 1)]);
        return (model, new PatchingInputs(Batch(clean), Batch(corrupted), metric));
    }

    private static TokenBatch Batch(int[][] s) => new(s.Select(x => (IReadOnlyList<int>)x).ToList(), padId: 0);

    private static void AllKindsAgree(HookedTransformer model, PatchingInputs inputs, PatchingOptions options, string what)
    {
        var plain = new ActivationPatcher(model, inputs, options with { Method = PatchingMethod.Plain });
        var exact = new ActivationPatcher(model, inputs, options with { Method = PatchingMethod.Exact, MaxRowsPerPass = 7 });
        void Same(Func<ActivationPatcher, Grid> sweep, string name)
        {
            var a = sweep(plain); var b = sweep(exact);
            Assert.Equal(a.Rows, b.Rows); Assert.Equal(a.Cols, b.Cols);
            TensorAssert.Close(a.PerPrompt!, b.PerPrompt!, $"{what} {name} per prompt");
            TensorAssert.Close(a.Values, b.Values, $"{what} {name}");
        }
        foreach (var act in new[] { "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out" }) Same(p => p.ByPosition(act), act);
        foreach (var head in Enum.GetValues<HeadActivation>())
        {
            Same(p => p.HeadsAllPositions(head), $"head {head}");
            Same(p => p.HeadsByPosition(head), $"head {head} by pos");
        }
        int last = model.Config.NLayers - 1;
        Same(p => p.Neurons([0, last - 1, last]), "neurons all positions");
        Same(p => p.Neurons([last], options.Alignment == Alignment.End ? -2 : 3), "neurons one position");
        Assert.Equal(plain.PatchedRuns, exact.PatchedRuns);
    }

    [Theory]
    [InlineData("tiny-a", PatchDirection.CleanIntoCorrupted)]
    [InlineData("tiny-a", PatchDirection.CorruptedIntoClean)]
    [InlineData("tiny-b", PatchDirection.CleanIntoCorrupted)]
    [InlineData("tiny-b", PatchDirection.CorruptedIntoClean)]
    public void ExactEqualsPlainOnFixtures(string fixture, PatchDirection direction)
    {
        var (model, inputs) = PatchingReferenceTests.Load(fixture);
        AllKindsAgree(model, inputs, new PatchingOptions { Direction = direction }, $"{fixture} {direction}");
    }

    [Theory]
    [InlineData(Alignment.Start, PatchDirection.CleanIntoCorrupted)]
    [InlineData(Alignment.End, PatchDirection.CleanIntoCorrupted)]
    [InlineData(Alignment.End, PatchDirection.CorruptedIntoClean)]
    public void ExactEqualsPlainOnRaggedRandomModel(Alignment alignment, PatchDirection direction)
    {
        var (model, inputs) = Ragged();
        AllKindsAgree(model, inputs, new PatchingOptions { Alignment = alignment, Direction = direction }, $"ragged {alignment} {direction}");
    }

    /// <summary>Unprocessed weights keep ln1's γ and β, which the neuron Q/K/V shortcut (NeuronQkv) must apply.</summary>
    [Theory]
    [InlineData(Alignment.Start)]
    [InlineData(Alignment.End)]
    public void ExactEqualsPlainNeuronsWithUnfoldedLayerNorm(Alignment alignment)
    {
        var (_, inputs) = Ragged();
        var model = RandomWeights.CreateModel(SmallConfig, seed: 5, processed: false);
        var options = new PatchingOptions { Alignment = alignment };
        var plain = new ActivationPatcher(model, inputs, options with { Method = PatchingMethod.Plain });
        var exact = new ActivationPatcher(model, inputs, options with { MaxRowsPerPass = 7 });
        TensorAssert.Close(plain.Neurons([0, 1, 2]).PerPrompt!, exact.Neurons([0, 1, 2]).PerPrompt!, "unfolded neurons");
        TensorAssert.Close(plain.HeadsAllPositions(HeadActivation.Output).PerPrompt!,
            exact.HeadsAllPositions(HeadActivation.Output).PerPrompt!, "unfolded heads");
    }

    [Fact]
    public void ExactEqualsPlainWithFullVocabularyMetric()
    {
        var (model, inputs) = Ragged(new LogProbMetric([1, 3, 5]));
        var options = new PatchingOptions { Alignment = Alignment.End };
        var a = new ActivationPatcher(model, inputs, options with { Method = PatchingMethod.Plain });
        var b = new ActivationPatcher(model, inputs, options);
        TensorAssert.Close(a.ResidPreByPosition().PerPrompt!, b.ResidPreByPosition().PerPrompt!, "log prob resid_pre");
        TensorAssert.Close(a.Neurons([1]).PerPrompt!, b.Neurons([1]).PerPrompt!, "log prob neurons");
    }

    [Theory]
    [InlineData(PatchingMethod.Plain)]
    [InlineData(PatchingMethod.Exact)]
    public void GenericPatchReproducesResidPreByPosition(PatchingMethod method)
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-b");
        var patcher = new ActivationPatcher(model, inputs, new PatchingOptions { Method = method });
        int pos = inputs.Clean.Pos, d = model.Config.DModel;
        var cols = Enumerable.Range(0, pos).Select(p => $"pos_{p}").ToArray();
        var generic = patcher.Generic("resid_pre", cols, (target, source, layer, p) =>
        {
            for (int b = 0; b < target.Dim(0); b++)
                source.Data.AsSpan((b * pos + p) * d, d).CopyTo(target.Data.AsSpan((b * pos + p) * d));
            return null;
        });
        TensorAssert.Close(patcher.ResidPreByPosition().PerPrompt!, generic.PerPrompt!, $"{method} generic resid_pre");
    }

    [Fact]
    public void ProgressCountsEveryPatchedRun()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        var reports = new List<PatchingProgress>();
        var patcher = new ActivationPatcher(model, inputs, new PatchingOptions { Progress = new SyncProgress(reports.Add) });
        patcher.Neurons([0]);
        Assert.Equal(model.Config.DMlp, reports[^1].Done);
        Assert.Equal(model.Config.DMlp, reports[^1].Total);
        Assert.True(reports.Select(r => r.Done).SequenceEqual(reports.Select(r => r.Done).Order()));
    }

    [Fact]
    public void SuiteRunsEveryGrid()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-b");
        var suite = PatchingSuite.RunExperiment1(model, inputs);
        Assert.Equal(7, suite.Grids.Count);
        int l = model.Config.NLayers, p = inputs.Clean.Pos, h = model.Config.NHeads;
        Assert.Equal(3 * l * p + 3 * l * h + model.Config.DMlp, suite.PatchedRuns);
    }

    private sealed class SyncProgress(Action<PatchingProgress> report) : IProgress<PatchingProgress>
    {
        public void Report(PatchingProgress value) => report(value);
    }
}
