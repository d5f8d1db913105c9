using BenchmarkDotNet.Attributes;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Bench;

/// <summary>
/// Attribution patching of every layer output, head (z/q/k/v/pattern) and all 12 x 3072 neurons on a
/// GPT-2-small-shaped random model (weights normal·0.02), 8 prompts x 8 tokens: two forwards + one backward.
/// Run: dotnet run -c Release --project bench/SharpLens.Bench -- --filter '*Attribution*'
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
[MemoryDiagnoser]
public class AttributionBenchmarks
{
    private HookedTransformer _model = null!;
    private TokenBatch _clean = null!, _corrupted = null!;
    private LogitDiffMetric _metric = null!;
    private ActivationCache _cache = null!;
    private float[] _dFinal = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = Gpt2SmallRandom(seed: 1);
        (_clean, _corrupted, _metric) = Prompts(_model.Config, batch: 8, pos: 8, seed: 2);
        // Warm the backward weights (packed once per model) and the caches used by the Backward benchmark.
        AttributionAllHeadsAndNeurons();
        (var norm, _cache) = _model.RunWithCache(_corrupted, _model.BackwardHooks(), LogitsMode.None);
        _dFinal = MetricGradient.ForFinalNormalized(_model, _metric, HookedTransformer.GatherFinal(norm, _corrupted), _corrupted.Batch);
    }

    /// <summary>Two forwards + one backward + the grid of every named sweep (heads by position and every layer's neurons included).</summary>
    [Benchmark]
    public int AttributionAllHeadsAndNeurons()
    {
        var engine = new AttributionPatcher(_model, new PatchingInputs(_clean, _corrupted, _metric));
        return engine.RunEach(engine.Plan(SweepNames.All), normalize: false).Count();
    }

    /// <summary>The backward pass alone, keeping only the gradients attribution reads.</summary>
    [Benchmark]
    public int BackwardOnly()
    {
        var keep = new HashSet<string>(AttributionRuns.AttributedHooks(_model.Config.NLayers));
        return TransformerBackward.FromFinalPositions(_model, _cache, _corrupted, _dFinal, keep.Contains).Keys.Count;
    }

    /// <summary>One forward with no logits, for scale.</summary>
    [Benchmark]
    public Tensor ForwardOnly() => _model.Run(_corrupted, new ForwardOptions { Logits = LogitsMode.None });

    /// <summary>GPT-2-small shape (d_model 768, 12 layers, 12 heads, d_mlp 3072, vocab 50257, n_ctx 1024), weights normal·0.02.</summary>
    public static HookedTransformer Gpt2SmallRandom(int seed)
    {
        var cfg = ModelConfig.Gpt2Small;
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead;
        int counter = 0;
        Tensor N(params int[] shape)
        {
            var t = Tensor.Zeros(shape);
            int s = seed * 1000 + counter++;
            // Chunks filled in parallel with independent seeded generators (deterministic).
            const int chunk = 1 << 16;
            Parallel.For(0, (t.Length + chunk - 1) / chunk, c =>
            {
                var rng = new Random(s * 100_003 + c);
                int end = Math.Min(t.Length, (c + 1) * chunk);
                for (int i = c * chunk; i < end; i++)
                {
                    double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
                    t.Data[i] = (float)(0.02 * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                }
            });
            return t;
        }
        Tensor Ones(int n) { var t = Tensor.Zeros(n); Array.Fill(t.Data, 1f); return t; }
        var blocks = Enumerable.Range(0, cfg.NLayers).Select(_ => new BlockWeights
        {
            Ln1W = Ones(d), Ln1B = N(d),
            W_Q = N(h, d, dh), W_K = N(h, d, dh), W_V = N(h, d, dh), b_Q = N(h, dh), b_K = N(h, dh), b_V = N(h, dh),
            W_O = N(h, dh, d), b_O = N(d),
            Ln2W = Ones(d), Ln2B = N(d),
            W_in = N(d, cfg.DMlp), b_in = N(cfg.DMlp), W_out = N(cfg.DMlp, d), b_out = N(d),
        }).ToArray();
        var weights = new TransformerWeights
        {
            W_E = N(cfg.DVocab, d), W_pos = N(cfg.NCtx, d), Blocks = blocks, LnFinalW = Ones(d), LnFinalB = N(d),
            W_U = N(d, cfg.DVocab), b_U = N(cfg.DVocab),
        };
        return new HookedTransformer(cfg, weights, weightsProcessed: false);
    }

    /// <summary>Random clean prompts; corrupted = clean with one position changed; random answer pairs.</summary>
    public static (TokenBatch Clean, TokenBatch Corrupted, LogitDiffMetric Metric) Prompts(ModelConfig cfg, int batch, int pos, int seed)
    {
        var rng = new Random(seed);
        var clean = new List<IReadOnlyList<int>>();
        var corrupted = new List<IReadOnlyList<int>>();
        var answers = new List<(int, int)>();
        for (int b = 0; b < batch; b++)
        {
            var ids = Enumerable.Range(0, pos).Select(p => p == 0 ? cfg.BosTokenId : rng.Next(cfg.DVocab - 1)).ToArray();
            var corr = (int[])ids.Clone();
            corr[pos / 2] = rng.Next(cfg.DVocab - 1);
            clean.Add(ids); corrupted.Add(corr);
            answers.Add((rng.Next(cfg.DVocab), rng.Next(cfg.DVocab)));
        }
        return (new TokenBatch(clean, cfg.BosTokenId), new TokenBatch(corrupted, cfg.BosTokenId), new LogitDiffMetric(answers));
    }
}
