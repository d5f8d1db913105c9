using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>Clear errors for inputs patching cannot use.</summary>
public class PatchingValidationTests
{
    private static TokenBatch Batch(params int[][] s) => new(s.Select(x => (IReadOnlyList<int>)x).ToList(), padId: 0);
    private static readonly IMetric Metric = new LogitDiffMetric([(1, 2), (1, 2)]);

    [Fact]
    public void DifferentLengthsNameThePrompt()
    {
        var ex = Assert.Throws<InvalidInputException>(() =>
            new PatchingInputs(Batch([1, 2, 3], [1, 2, 3, 4]), Batch([1, 2, 3], [1, 2, 3]), Metric));
        Assert.Contains("clean prompt 1 has 4 tokens but corrupted prompt 1 has 3", ex.Message);
        Assert.Contains("aligned prompts", ex.Message);
    }

    [Fact]
    public void DifferentPromptCounts()
    {
        var ex = Assert.Throws<InvalidInputException>(() => new PatchingInputs(Batch([1, 2]), Batch([1, 2], [1, 3]), Metric));
        Assert.Contains("1 clean prompts but 2 corrupted", ex.Message);
    }

    [Fact]
    public void MissingMetric() =>
        Assert.Throws<InvalidInputException>(() => new PatchingInputs(Batch([1, 2]), Batch([1, 3]), null!));

    [Fact]
    public void PositionMissingFromARaggedPromptIsAnError()
    {
        var (model, _) = PatchingReferenceTests.Load("tiny-a");
        var inputs = new PatchingInputs(Batch([95, 1, 2, 3], [95, 1, 2]), Batch([95, 1, 5, 3], [95, 1, 6]), Metric);
        var ex = Assert.Throws<InvalidInputException>(() => new ActivationPatcher(model, inputs, new PatchingOptions { Positions = [3] }));
        Assert.Contains("position 3 does not exist in prompt 1, which has 3 tokens", ex.Message);
        var end = Assert.Throws<InvalidInputException>(() =>
            new ActivationPatcher(model, inputs, new PatchingOptions { Alignment = Alignment.End, Positions = [1] }));
        Assert.Contains("-1 for the final token", end.Message);
        Assert.Throws<InvalidInputException>(() => new ActivationPatcher(model, inputs, new PatchingOptions { Alignment = Alignment.End, Positions = [-4] }));
        // Default columns are the positions every prompt has.
        var grid = new ActivationPatcher(model, inputs, new PatchingOptions { Alignment = Alignment.End }).ResidPreByPosition();
        Assert.Equal(["pos_-3", "pos_-2", "pos_-1"], grid.Cols);
    }

    [Fact]
    public void PatternByPositionPatchesOnlyThatDestinationRow()
    {
        // Patching every destination row one at a time: rows before the first corrupted token hold identical
        // patterns in both runs, so those cells equal the corrupted baseline exactly.
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        var patcher = new ActivationPatcher(model, inputs);
        var grid = patcher.HeadsByPosition(HeadActivation.Pattern);
        float corrupted = patcher.CorruptedBaseline.Average();
        int positions = inputs.Clean.Pos, heads = model.Config.NHeads;
        for (int l = 0; l < model.Config.NLayers; l++)
            for (int p = 0; p < 2; p++)
                for (int h = 0; h < heads; h++)
                    Assert.Equal(corrupted, grid[l * positions + p, h], 5);
        Assert.Contains(Enumerable.Range(0, grid.Values.Length), i => MathF.Abs(grid.Values.Data[i] - corrupted) > 1e-3f);
    }

    [Fact]
    public void BadSweepArguments()
    {
        var (model, inputs) = PatchingReferenceTests.Load("tiny-a");
        var patcher = new ActivationPatcher(model, inputs);
        Assert.Contains("use one of", Assert.Throws<InvalidInputException>(() => patcher.ByPosition("hook_q")).Message);
        Assert.Contains("layer 5 does not exist", Assert.Throws<InvalidInputException>(() => patcher.Neurons([5])).Message);
        Assert.Throws<InvalidInputException>(() => patcher.Generic(["a"], ["b"], (_, _) => "blocks.0.hook_nope", (_, _, _, _) => null));
        Assert.Throws<InvalidInputException>(() => new ActivationPatcher(model, inputs, new PatchingOptions { MaxRowsPerPass = 0 }));
    }
}
