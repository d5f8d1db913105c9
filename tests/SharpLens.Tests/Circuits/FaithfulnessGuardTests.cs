using SharpLens.Analysis.Patching;
using SharpLens.Circuits;
using SharpLens.Reports;

namespace SharpLens.Tests.Circuits;

/// <summary>
/// Faithfulness divides by (clean − corrupted). When that gap's bootstrap CI includes zero the ratio is noise: it is
/// reported as undecided, not as a number; an empty circuit is "empty", not 0; a clear gap still gives numbers.
/// </summary>
public class FaithfulnessGuardTests
{
    private static Circuit All(CircuitGraph g) => new(g, Enumerable.Repeat(true, g.Edges.Count).ToArray());

    [Fact]
    public void TinyBsFixturePromptsHaveNoClearGapSoTheirFaithfulnessIsUndecided()
    {
        // Random weights, prompts that differ in the middle: the gap's CI includes 0 (as on a random GPT-2 study).
        var (model, inputs) = CircuitTestModels.Fixture("tiny-b");
        var evaluator = new CircuitEvaluator(model, inputs);
        Assert.False(evaluator.Gap().IsClear);
        Assert.Equal(FaithfulnessStatus.Undecided, evaluator.Faithfulness(All(evaluator.Graph), 1000).Status);
    }

    [Fact]
    public void NoEffectAtAllMakesEveryFaithfulnessUndecided()
    {
        // Corrupted prompts equal to the clean ones: the gap is exactly 0 on every prompt, so every ratio is 0/0 or x/0.
        var (model, inputs) = CircuitTestModels.Fixture("tiny-b");
        var evaluator = new CircuitEvaluator(model, new PatchingInputs(inputs.Clean, inputs.Clean, inputs.Metric));
        var gap = evaluator.Gap();
        Assert.Equal(0f, gap.Estimate);
        Assert.False(gap.IsClear);
        var result = evaluator.Faithfulness(All(evaluator.Graph), 200);
        Assert.Equal(FaithfulnessStatus.Undecided, result.Status);
        var json = result.ToJson();
        Assert.Equal("undecided", json["status"]!.GetValue<string>());
        Assert.Null(json["faithfulness"]);
        Assert.Null(json["ci_lower"]);
        Assert.StartsWith("undecided", CircuitReport.Format(result));
        Assert.Contains("includes 0", CircuitReport.UndecidedNote(gap));
    }

    [Fact]
    public void AClearGapGivesNumbersAndTheFullGraphIsOne()
    {
        var (model, inputs) = CircuitTestModels.Copying();
        var evaluator = new CircuitEvaluator(model, inputs);
        var gap = evaluator.Gap();
        Assert.True(gap.IsClear, $"the copying prompts' clean − corrupted gap {gap.Interval} should exclude 0");
        var full = evaluator.Faithfulness(All(evaluator.Graph), 500);
        Assert.Equal(FaithfulnessStatus.Measured, full.Status);
        Assert.Equal(1f, full.Faithfulness, 4);
        Assert.Equal(1.0, full.ToJson()["faithfulness"]!.GetValue<double>(), 4);
    }

    [Fact]
    public void ACircuitPrunedToNothingIsEmptyNotZero()
    {
        var (model, inputs) = CircuitTestModels.Copying();
        var evaluator = new CircuitEvaluator(model, inputs);
        var g = evaluator.Graph;
        // One edge between two heads that nothing connects to the input or the logits: pruning removes it.
        var flags = new bool[g.Edges.Count];
        flags[g.EdgeIndexByName["a0.h0->a1.h0<q>"]] = true;
        var pruned = new Circuit(g, flags).Pruned();
        Assert.Equal(0, pruned.EdgeCount);
        var result = evaluator.Faithfulness(pruned, 200);
        Assert.Equal(FaithfulnessStatus.Empty, result.Status);
        Assert.Null(result.ToJson()["faithfulness"]);
        Assert.Equal("empty", result.ToJson()["status"]!.GetValue<string>());
        // Read back as empty, not as 0.
        Assert.Equal(FaithfulnessStatus.Empty, FaithfulnessResult.FromJson(result.ToJson(), "x").Status);
    }

    [Fact]
    public void TheCurveFigureRunsOnALogAxisWithACiBandAndGapsForUnmeasuredPoints()
    {
        var ci = new SharpLens.Analysis.Statistics.ConfidenceInterval(0.5f, 0.2f, 0.8f, 0.95);
        var curve = new[]
        {
            new FaithfulnessResult(0, 0f, ci, []) { Status = FaithfulnessStatus.Empty },
            new FaithfulnessResult(10, 0.5f, ci, []),
            new FaithfulnessResult(100, 0.7f, ci, []) { Status = FaithfulnessStatus.Undecided },
            new FaithfulnessResult(172, 1f, ci with { Estimate = 1f, Lower = 1f, Upper = 1f }, []),
        };
        var figure = CircuitReport.CurveFigure("g", curve);
        Assert.True(figure.LogX);
        Assert.Equal([10.0, 100.0, 172.0], figure.XValues!);    // the empty circuit has no place on a log axis
        var band = Assert.Single(figure.Bands);
        Assert.Equal(0.2, band.Lower[0], 5);
        Assert.True(double.IsNaN(band.Lower[1]) && double.IsNaN(figure.Series[0].Y[1]));
        var (data, layout) = PlotlySpec.Build(figure)!.Value;
        Assert.Equal("log", layout["xaxis"]!["type"]!.GetValue<string>());
        Assert.Contains(data, t => t!["fill"]?.GetValue<string>() == "tonexty");
    }

    [Fact]
    public void NodeOverlapComparesHeadsAndMlpsNotTheInputAndLogitsEveryCircuitHas()
    {
        var g = new CircuitGraph(2, 2, 8);
        Circuit Of(params string[] edges)
        {
            var flags = new bool[g.Edges.Count];
            foreach (var e in edges) flags[g.EdgeIndexByName[e]] = true;
            return new Circuit(g, flags);
        }
        var viaHead = Of("input->a0.h0<v>", "a0.h0->logits");
        var viaMlp = Of("input->m0", "m0->logits");
        Assert.Equal(["a0.h0"], viaHead.ComponentNodes);
        Assert.Equal(["m0"], viaMlp.ComponentNodes);
        Assert.Empty(viaHead.ComponentNodes.Intersect(viaMlp.ComponentNodes));
        Assert.Contains("input", viaHead.Nodes);
    }
}
