using SharpLens.Loading;
using SharpLens.Server;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Server;

/// <summary><c>sharplens bench --suites explorer</c>'s measurement runs every interaction through the real endpoints
/// (the benchmark throws when any answer is not a success or a patching job does not end in a result).</summary>
public class ExplorerBenchmarkTests
{
    [Fact]
    public async Task Every_interaction_is_timed_through_its_endpoint()
    {
        var model = ModelLoader.Load(RandomCheckpoint.Shared);
        var timings = await ExplorerBenchmark.RunAsync(model, repeats: 1);
        // Patching also times its first kind's heatmap (the first "partial" event): exact and attribution run one path.
        Assert.Equal(["predict", "attribute", "head", "neuron", "patch_exact", "patch_exact_first_kind", "patch_exact_one_pair", "patch_exact_one_pair_first_kind", "patch_exact_neurons",
            "patch_exact_neurons_first_kind", "patch_attribution", "patch_attribution_first_kind", "export"], timings.Select(t => t.Name));
        Assert.All(timings, t => Assert.True(t.MedianSeconds > 0, t.Name));
        var whole = timings.Single(t => t.Name == "patch_exact").MedianSeconds;
        Assert.True(timings.Single(t => t.Name == "patch_exact_first_kind").MedianSeconds <= whole);
    }
}
