using SharpLens.Model;
using SharpLens.Training;

namespace SharpLens.Tests.Training;

/// <summary><c>sharplens bench --suites training</c>'s measurement: what it counts (not how fast it is).</summary>
public class TrainingBenchmarkTests
{
    [Fact]
    public void ItTrainsTheTimedStepsAndCountsThreeForwardPassesOfMatmulFlopsPerStep()
    {
        var spec = TrainerTests.Spec();
        var r = TrainingBenchmark.Run(spec, steps: 2, warmupSteps: 1, batchSize: 3);
        Assert.Equal(2, r.Steps);
        Assert.Equal(2L * 3 * spec.Model.NCtx, r.Tokens);
        var model = TrainableModel.Initialize(spec, 0).Build();
        Assert.Equal(3 * ForwardCost.Of(model, 3, spec.Model.NCtx).Flops, r.MatmulFlopsPerStep, 6);
        Assert.True(r.Seconds > 0 && r.CpuSeconds >= 0);
        Assert.Equal(r.Tokens / r.Seconds, r.TokensPerSecond, 6);
        Assert.Equal(r.MatmulFlopsPerStep * 2 / r.Seconds / 1e9, r.Gflops, 6);
        Assert.Contains("\"d_vocab\": 2048", TrainingBenchmark.InductionConfig, StringComparison.Ordinal);
    }
}
