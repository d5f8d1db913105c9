using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// Every family (gpt_neox parallel and sequential, Llama 2 sharded, Llama 3 bf16 with rope scaling and grouped-query
/// attention, Mistral with a sliding window, Qwen2 with q/k/v biases, Qwen3 with q/k norm) loaded from its Hugging Face
/// folder against the independent PyTorch reference (tests/reference/make_family_fixtures.py): every hook and the logits,
/// raw and processed, the processed weights, the parameter gradients of the LM loss, every hook's gradient of the
/// logit-difference metric, and activation patching (plain and exact).
/// </summary>
public class FamilyParityTests
{
    /// <summary>The family fixtures.</summary>
    public static readonly string[] Families = ["neox-parallel", "neox-sequential", "llama2", "llama3", "mistral", "qwen2", "qwen3"];

    public static TheoryData<string, bool> RawAndProcessed()
    {
        var data = new TheoryData<string, bool>();
        foreach (var f in Families) { data.Add(f, false); data.Add(f, true); }
        return data;
    }

    public static TheoryData<string> Each()
    {
        var data = new TheoryData<string>();
        foreach (var f in Families) data.Add(f);
        return data;
    }

    [Theory]
    [MemberData(nameof(RawAndProcessed))]
    public void EveryHookAndTheLogitsMatchTheReference(string family, bool processed)
    {
        var model = Fixtures.Load(family, processed);
        var tokens = Fixtures.Tokens(family);
        var (logits, cache) = model.RunWithCache(tokens.CleanBatch);
        using var golden = Fixtures.Golden(family, processed);
        foreach (var name in model.HookPointNames)
        {
            Assert.True(golden.Contains(name), $"{family}: the reference lacks {name}");
            TensorAssert.Close(golden.ReadTensor(name), cache[name], $"{family} {(processed ? "processed" : "raw")} {name}");
        }
        var referenceHooks = golden.Names.Where(n => n.StartsWith("hook_", StringComparison.Ordinal) || n.StartsWith("blocks.", StringComparison.Ordinal)
            || n.StartsWith("ln_final.", StringComparison.Ordinal));
        Assert.Equal(referenceHooks.Order(), model.HookPointNames.Order());
        TensorAssert.Close(golden.ReadTensor("logits"), logits, $"{family} logits");
    }

    [Theory]
    [MemberData(nameof(Each))]
    public void ProcessedWeightsMatchTransformerLens(string family)
    {
        var model = Fixtures.Load(family, processed: true);
        using var golden = Fixtures.Golden(family, processed: true);
        var expected = golden.Names.Where(n => n.StartsWith("weights.", StringComparison.Ordinal)).Select(n => n["weights.".Length..]).Order().ToList();
        Assert.Equal(expected, model.Weights.Named().Select(p => p.Name).Order());
        foreach (var (name, tensor) in model.Weights.Named())
            TensorAssert.Close(golden.ReadTensor("weights." + name), tensor, $"{family} {name}", 1e-5f);
    }

    /// <summary>The LM loss (TransformerLens' lm_cross_entropy_loss) and the gradient of every raw parameter.</summary>
    [Theory]
    [MemberData(nameof(Each))]
    public void ParameterGradientsOfTheLmLossMatchAutograd(string family)
    {
        var model = Fixtures.Load(family, processed: false);
        var tokens = Fixtures.Tokens(family).CleanBatch;
        var cache = new ActivationCache(model);
        var needed = new HashSet<string>(model.BackwardHooks(parameters: true));
        var logits = model.Run(tokens, new ForwardOptions { Cache = cache, CacheFilter = needed.Contains });
        var (loss, dLogits) = LmLoss(logits, tokens);
        using var golden = Fixtures.Golden(family, processed: false);
        Assert.Equal(golden.ReadTensor("lm_loss").Data[0], (float)loss, 4);
        var grads = new ParameterGradients();
        TransformerBackward.FromLogits(model, cache, tokens, dLogits, keep: _ => false, parameters: grads);
        var expected = golden.Names.Where(n => n.StartsWith("param_grad.", StringComparison.Ordinal)).Select(n => n["param_grad.".Length..]).Order().ToList();
        Assert.Equal(expected, grads.Keys.Order());
        foreach (var name in expected)
            TensorAssert.Close(golden.ReadTensor("param_grad." + name), grads[name], $"{family} d lm_loss / d {name}", atol: 1e-4f, rtol: 1e-3f);
    }

    // Mean over batch and the first pos - 1 positions of -log p(next token) (TransformerLens' lm_cross_entropy_loss).
    private static (double Loss, Tensor DLogits) LmLoss(Tensor logits, TokenBatch tokens)
    {
        int batch = logits.Dim(0), pos = logits.Dim(1), vocab = logits.Dim(2), count = batch * (pos - 1);
        var dLogits = Tensor.Zeros(batch, pos, vocab);
        double loss = 0;
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < pos - 1; p++)
            {
                var row = logits.Data.AsSpan((b * pos + p) * vocab, vocab);
                int target = tokens.Ids[b * pos + p + 1];
                double max = double.NegativeInfinity, sum = 0;
                foreach (float x in row) max = Math.Max(max, x);
                foreach (float x in row) sum += Math.Exp(x - max);
                loss += (Math.Log(sum) + max - row[target]) / count;
                for (int v = 0; v < vocab; v++)
                    dLogits.Data[(b * pos + p) * vocab + v] = (float)((Math.Exp(row[v] - max) / sum - (v == target ? 1 : 0)) / count);
            }
        return (loss, dLogits);
    }

    /// <summary>d metric / d every hook on the corrupted run, the metric the mean logit difference at the last position.</summary>
    [Theory]
    [MemberData(nameof(Each))]
    public void EveryHookGradientMatchesTheReference(string family)
    {
        var model = Fixtures.Load(family, processed: true);
        var tokens = Fixtures.Tokens(family);
        var batch = tokens.CorruptedBatch;
        var (normalized, cache) = model.RunWithCache(batch, logits: LogitsMode.None);
        var rows = HookedTransformer.GatherFinal(normalized, batch);
        var dFinal = MetricGradient.ForFinalNormalized(model, new LogitDiffMetric(tokens.AnswerPairs), rows, batch.Batch);
        var grads = TransformerBackward.FromFinalPositions(model, cache, batch, dFinal);
        using var golden = Fixtures.Golden(family, processed: true);
        foreach (var name in model.HookPointNames.Where(n => !n.EndsWith("hook_attn_scores", StringComparison.Ordinal)))
            TensorAssert.Close(golden.ReadTensor("grad." + name), grads[name], $"{family} grad.{name}", atol: 1e-4f, rtol: 1e-3f);
    }

    /// <summary>Activation patching, clean into corrupted, plain and exact, against the reference's patch.* grids.</summary>
    [Theory]
    [MemberData(nameof(Each))]
    public void ActivationPatchingMatchesTheReference(string family)
    {
        var model = Fixtures.Load(family, processed: true);
        var tokens = Fixtures.Tokens(family);
        var inputs = new PatchingInputs(tokens.CleanBatch, tokens.CorruptedBatch, new LogitDiffMetric(tokens.AnswerPairs));
        using var golden = Fixtures.Golden(family, processed: true);
        foreach (var method in new[] { PatchingMethod.Plain, PatchingMethod.Exact })
        {
            var patcher = new ActivationPatcher(model, inputs, new PatchingOptions { Method = method });
            void Check(string key, Grid grid) => TensorAssert.Close(golden.ReadTensor(key).Data, grid.Values.Data, $"{family} {method} {key}");
            Check("patch.resid_pre", patcher.ResidPreByPosition());
            Check("patch.attn_out", patcher.AttnOutByPosition());
            Check("patch.mlp_out", patcher.MlpOutByPosition());
            Check("patch.head_z", patcher.HeadsAllPositions(HeadActivation.Output));
            Check("patch.head_v", patcher.HeadsAllPositions(HeadActivation.Value));
            Check("patch.head_pattern", patcher.HeadsAllPositions(HeadActivation.Pattern));
            Check("patch.head_z_by_pos", patcher.HeadsByPosition(HeadActivation.Output));
            Check("patch.neurons_L0", patcher.Neurons([0]));
            Check($"patch.neurons_L{model.Config.NLayers - 1}", patcher.Neurons([model.Config.NLayers - 1]));
            TensorAssert.Close(golden.ReadTensor("metric.clean").Data, [patcher.CleanBaseline.Average()], $"{family} clean metric");
            TensorAssert.Close(golden.ReadTensor("metric.corrupted").Data, [patcher.CorruptedBaseline.Average()], $"{family} corrupted metric");
        }
    }
}
