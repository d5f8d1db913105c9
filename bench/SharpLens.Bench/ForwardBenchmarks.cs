using BenchmarkDotNet.Attributes;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Bench;

/// <summary>The forward target: 8 prompts x 8 tokens through a GPT-2-small-shaped model, full logits.</summary>
[MemoryDiagnoser]
public class ForwardBenchmarks
{
    private HookedTransformer _model = null!;
    private TokenBatch _batch = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = RandomWeights.CreateModel(ModelConfig.Gpt2Small);
        _batch = SharpLens.Cli.Bench.Workloads.Experiment1Shaped(_model).Clean;
    }

    [Benchmark] public object FullLogits() => _model.Forward(_batch);
    [Benchmark] public object FinalLogitsOnly() => _model.Run(_batch, new ForwardOptions { Logits = LogitsMode.Final });
}
