using SharpLens.Analysis.Metrics;
using SharpLens.Circuits;
using SharpLens.Model;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Circuits;

/// <summary>EAP and EAP-IG scores against torch autograd on the split-input graph (tests/reference/make_circuit_fixtures.py).</summary>
public class EdgeAttributionTests
{
    private static void AssertScores(string name, string key, EdgeScores actual)
    {
        using var golden = SharpLens.Loading.SafetensorsFile.Open(Path.Combine(Fixtures.Folder(name), "circuits.safetensors"));
        var expected = golden.ReadTensor(key);
        Assert.Equal([actual.Graph.NForward, actual.Graph.NBackward], expected.Shape);
        TensorAssert.Close(expected.Data, actual.Matrix, $"{name} {key}", 1e-4f);
        Assert.True(expected.Data.Max(MathF.Abs) > 1e-2f, "the reference scores are not all near zero");
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void EapMatchesAutograd(string name)
    {
        var (model, inputs) = CircuitTestModels.Fixture(name);
        AssertScores(name, "eap.logit_diff", EdgeAttribution.Eap(model, inputs.Clean, inputs.Corrupted, inputs.Metric));
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void EapIgMatchesAutogradForLogitDifferenceAndKl(string name)
    {
        var (model, inputs) = CircuitTestModels.Fixture(name);
        AssertScores(name, "eap_ig3.logit_diff", EdgeAttribution.EapIg(model, inputs.Clean, inputs.Corrupted, inputs.Metric, steps: 3));
        var cleanLogits = model.Forward(inputs.Clean, new ForwardOptions { Logits = LogitsMode.Final });
        AssertScores(name, "eap_ig3.kl", EdgeAttribution.EapIg(model, inputs.Clean, inputs.Corrupted, new KlMetric(cleanLogits), steps: 3));
    }

    [Fact]
    public void EapScoreOfAnEdgeApproximatesItsExactEffectForSmallChanges()
    {
        // On a ragged batch with LayerNorm weights: first-order agreement between the gradient estimate and exact patching,
        // with the corrupted prompts only slightly different (interpolated embeddings would be exact to first order).
        var (model, inputs) = CircuitTestModels.RaggedRandom();
        var eap = EdgeAttribution.Eap(model, inputs.Clean, inputs.Corrupted, inputs.Metric);
        var evaluator = new CircuitEvaluator(model, inputs);
        var top = eap.Top(5).Select(p => p.Edge).ToList();
        var exact = evaluator.ExactScores(top);
        // Signs of the largest estimates agree with the exact effects on at least 4 of 5 edges.
        int agree = top.Count(e => MathF.Sign(eap[e]) == MathF.Sign(exact[e]));
        Assert.True(agree >= 4, $"EAP and exact patching disagree in sign on {5 - agree} of the top 5 edges");
    }

    [Fact]
    public void RejectsMisalignedPrompts()
    {
        var (model, inputs) = CircuitTestModels.RaggedRandom();
        var shorter = new SharpLens.Tokenization.TokenBatch([[19, 3, 5], [19, 4, 5, 1], [19, 8, 9, 10, 11]], padId: 0);
        Assert.Throws<InvalidInputException>(() => EdgeAttribution.Eap(model, inputs.Clean, shorter, inputs.Metric));
        Assert.Throws<InvalidInputException>(() => EdgeAttribution.EapIg(model, inputs.Clean, inputs.Corrupted, inputs.Metric, steps: 0));
    }
}
