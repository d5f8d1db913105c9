using SharpLens.Analysis;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tensors;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>Plain (and Exact) patching against the PyTorch reference's patch.* tensors (RAW mean logit diff, clean into corrupted).</summary>
public class PatchingReferenceTests
{
    public static TheoryData<string, PatchingMethod> Cases() => new()
    {
        { "tiny-a", PatchingMethod.Plain }, { "tiny-b", PatchingMethod.Plain },
        { "tiny-a", PatchingMethod.Exact }, { "tiny-b", PatchingMethod.Exact },
    };

    internal static (HookedTransformer Model, PatchingInputs Inputs) Load(string fixture)
    {
        var model = Fixtures.Load(fixture, processed: true);
        var tokens = Fixtures.Tokens(fixture);
        return (model, new PatchingInputs(tokens.CleanBatch, tokens.CorruptedBatch, new LogitDiffMetric(tokens.AnswerPairs)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string fixture, PatchingMethod method)
    {
        var (model, inputs) = Load(fixture);
        var patcher = new ActivationPatcher(model, inputs, new PatchingOptions { Method = method });
        using var golden = Fixtures.Golden(fixture, processed: true);
        void Check(string key, Grid grid) => TensorAssert.Close(golden.ReadTensor(key).Data, grid.Values.Data, $"{fixture} {method} {key}");

        Check("patch.resid_pre", patcher.ResidPreByPosition());
        Check("patch.attn_out", patcher.AttnOutByPosition());
        Check("patch.mlp_out", patcher.MlpOutByPosition());
        Check("patch.head_z", patcher.HeadsAllPositions(HeadActivation.Output));
        Check("patch.head_v", patcher.HeadsAllPositions(HeadActivation.Value));
        Check("patch.head_pattern", patcher.HeadsAllPositions(HeadActivation.Pattern));
        Check("patch.head_z_by_pos", patcher.HeadsByPosition(HeadActivation.Output));
        int last = model.Config.NLayers - 1;
        Check("patch.neurons_L0", patcher.Neurons([0]));
        Check($"patch.neurons_L{last}", patcher.Neurons([last]));

        TensorAssert.Close(golden.ReadTensor("metric.clean").Data, [patcher.CleanBaseline.Average()], "clean metric");
        TensorAssert.Close(golden.ReadTensor("metric.corrupted").Data, [patcher.CorruptedBaseline.Average()], "corrupted metric");
    }

    [Fact]
    public void GridHasLabelsPerPromptValuesAndMean()
    {
        var (model, inputs) = Load("tiny-a");
        var labels = Enumerable.Range(0, inputs.Clean.Pos).Select(p => $"t{p}").ToArray();
        var grid = new ActivationPatcher(model, inputs, new PatchingOptions { StrTokens = labels }).ResidPreByPosition();
        Assert.Equal(["0", "1"], grid.Rows);
        Assert.Equal("t1_1", grid.Cols[1]);
        Assert.Equal([inputs.Prompts, 2, inputs.Clean.Pos], grid.PerPrompt!.Shape);
        int cells = grid.Values.Length;
        for (int c = 0; c < cells; c++)
        {
            float mean = 0;
            for (int b = 0; b < inputs.Prompts; b++) mean += grid.PerPrompt.Data[b * cells + c];
            Assert.Equal(mean / inputs.Prompts, grid.Values.Data[c], 5);
        }
        var noLabels = new ActivationPatcher(model, inputs).HeadsAllPositions(HeadActivation.Output);
        Assert.Equal(["0", "1", "2", "3"], noLabels.Cols);
    }

    [Fact]
    public void NormalizedGridIsZeroBeforeTheChangeAndOneForAllOfResidPre()
    {
        var (model, inputs) = Load("tiny-a");
        var patcher = new ActivationPatcher(model, inputs);
        var norm = patcher.Normalize(patcher.ResidPreByPosition());
        Assert.Equal(0f, norm[0, 0], 4); // position 0 is the same token in both runs
        Assert.Equal(0f, norm[1, 1], 4);
        var perPrompt = PatchingNormalization.Normalize(patcher.ResidPreByPosition(), patcher.CleanBaseline, patcher.CorruptedBaseline, perPromptBaselines: true);
        Assert.Equal(0f, perPrompt.PerPrompt!.Data[0], 4);
    }
}
