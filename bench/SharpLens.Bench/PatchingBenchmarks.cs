using BenchmarkDotNet.Attributes;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Bench;

/// <summary>
/// Activation patching on a GPT-2-small-shaped random model (12 layers, d_model 768, 12 heads, d_mlp 3072,
/// vocab 50257, n_ctx 1024) with 8 prompts x 8 tokens whose clean and corrupted versions differ at position 2.
/// Exact vs Plain for resid_pre by position and head z; Exact for all 3072 neurons of layer 8 and the whole
/// experiment-1 suite (Plain neurons are too slow to time in full: time a few and extrapolate).
/// </summary>
[MemoryDiagnoser]
public class PatchingBenchmarks
{
    private HookedTransformer _model = null!;
    private PatchingInputs _inputs = null!;

    [Params(PatchingMethod.Exact, PatchingMethod.Plain)]
    public PatchingMethod Method { get; set; }

    [GlobalSetup]
    public void Setup() => (_model, _inputs) = Gpt2SmallPatchingSetup.Create();

    private ActivationPatcher Patcher() => new(_model, _inputs, new PatchingOptions { Method = Method });

    [Benchmark]
    public object ResidPreByPosition() => Patcher().ResidPreByPosition();

    [Benchmark]
    public object HeadOutput() => Patcher().HeadsAllPositions(HeadActivation.Output);

    [Benchmark]
    public object NeuronsLayer8() => Method == PatchingMethod.Exact ? Patcher().Neurons([8]) : Patcher().Neurons([8], position: 2);

    [Benchmark]
    public object Experiment1Suite() => Method == PatchingMethod.Exact
        ? PatchingSuite.RunExperiment1(_model, _inputs)
        : 0; // Plain suite: ~6,900 full forwards, not timed here.
}

/// <summary>The GPT-2-small-shaped random model and 8 x 8-token clean/corrupted prompts of the patching benchmarks.</summary>
public static class Gpt2SmallPatchingSetup
{
    public static (HookedTransformer Model, PatchingInputs Inputs) Create(int prompts = 8, int tokens = 8, int seed = 0)
    {
        var model = RandomWeights.CreateModel(ModelConfig.Gpt2Small, seed);
        return (model, SharpLens.Cli.Bench.Workloads.Experiment1Shaped(model, prompts, tokens, seed + 1));
    }
}
