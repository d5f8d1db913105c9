using SharpLens.Training;
using SharpLens.Tests.Support;
using SharpLens.Training.Tasks;

namespace SharpLens.Tests.Training;

/// <summary>The training step's gradients, determinism, accumulation and the loss.</summary>
public class TrainerTests
{
    internal static TrainingModelConfig Spec(bool attnOnly = false, string norm = "LN") => TrainingModelConfig.Parse(
        $$"""{"n_layers": 2, "d_model": 16, "n_heads": 2, "d_vocab": 97, "n_ctx": 16, "d_mlp": 24, "act_fn": "gelu_new", "attn_only": {{(attnOnly ? "true" : "false")}}, "normalization_type": "{{norm}}"}""");

    private static Trainer NewTrainer(TrainingModelConfig spec, long seed = 3, TrainingOptions? options = null) =>
        new(TrainableModel.Initialize(spec, seed), new InductionTask(16, spec.Model.DVocab, spec.Model.BosTokenId), options ?? new TrainingOptions { Steps = 10, BatchSize = 4, EvalEvery = 0 }, seed);

    [Theory]
    [InlineData(false, "LN")]
    [InlineData(true, "LNPre")]
    public void EveryTrainedParameterGradientMatchesFiniteDifferencesOfTheMaskedLoss(bool attnOnly, string norm)
    {
        var spec = Spec(attnOnly, norm);
        var trainer = NewTrainer(spec);
        // Larger weights than the initialisation so that every parameter visibly moves the loss.
        var rng = new Random(5);
        foreach (var (_, t) in trainer.Model.Parameters)
            for (int i = 0; i < t.Length; i++) t.Data[i] += (float)(rng.NextDouble() - 0.5) * 0.6f;
        trainer.Model.SyncTiedUnembedding();
        var batch = trainer.Task.TrainBatch(1, 0, 3);
        Assert.True(batch.Targets > 0);
        trainer.Accumulate([batch]);
        var names = trainer.Model.Parameters.Select(p => p.Name).ToList();
        Assert.DoesNotContain("unembed.W_U", names);
        Assert.Equal(attnOnly, !names.Any(n => n.Contains(".mlp.")));
        Assert.Equal(norm == "LN", names.Contains("blocks.0.ln1.w"));
        const float h = 1e-2f;
        foreach (var (name, tensor) in trainer.Model.Parameters)
        {
            var direction = new float[tensor.Length];
            for (int i = 0; i < direction.Length; i++) direction[i] = (float)(rng.NextDouble() * 2 - 1);
            System.Numerics.Tensors.TensorPrimitives.Divide(direction, System.Numerics.Tensors.TensorPrimitives.Norm(direction), direction);
            double analytic = System.Numerics.Tensors.TensorPrimitives.Dot(trainer.Gradients[name].Data, direction);
            var original = (float[])tensor.Data.Clone();
            double LossAt(float step)
            {
                for (int i = 0; i < original.Length; i++) tensor.Data[i] = original[i] + step * direction[i];
                trainer.Model.SyncTiedUnembedding(); // W_E moves W_U with it: the tied gradient must hold both uses
                var logits = trainer.Model.Build().Forward(batch.Tokens);
                return NextTokenLoss.Sum(logits, batch, 1, null) / batch.Targets;
            }
            double numeric = (LossAt(h) - LossAt(-h)) / (2 * h);
            original.CopyTo(tensor.Data, 0);
            trainer.Model.SyncTiedUnembedding();
            Assert.True(Math.Abs(numeric - analytic) <= 3e-4 + 0.02 * Math.Abs(numeric), $"{name}: analytic {analytic:G6}, finite differences {numeric:G6}");
            if (!name.EndsWith(".attn.b_K", StringComparison.Ordinal))
                Assert.True(Math.Abs(numeric) > 1e-5, $"{name}: the loss does not depend on it, so the check proves nothing");
        }
    }

    [Fact]
    public void TheLossCountsOnlyMaskedPredictionsAndItsGradientIsSoftmaxMinusOneHot()
    {
        var tokens = new SharpLens.Tokenization.TokenBatch([[3, 1, 2], [3, 2, 0]], padId: 3);
        var mask = new float[] { 0, 1, 0, 0, 1, 1 };
        var logits = SharpLens.Tensors.Tensor.Zeros(2, 3, 4);
        var rng = new Random(1);
        for (int i = 0; i < logits.Length; i++) logits.Data[i] = (float)rng.NextDouble() * 4 - 2;
        var d = SharpLens.Tensors.Tensor.Zeros(2, 3, 4);
        double sum = NextTokenLoss.Sum(logits, new TrainingBatch(tokens, mask), 3, d);
        double expected = 0;
        foreach (var (b, p) in new[] { (0, 0), (1, 0), (1, 1) })
        {
            var row = Enumerable.Range(0, 4).Select(v => (double)logits[b, p, v]).ToArray();
            double lse = Math.Log(row.Sum(Math.Exp));
            int target = tokens[b, p + 1];
            expected += lse - row[target];
            for (int v = 0; v < 4; v++)
                Assert.Equal((Math.Exp(row[v] - lse) - (v == target ? 1 : 0)) / 3, d[b, p, v], 6);
        }
        Assert.Equal(expected, sum, 5);
        foreach (var (b, p) in new[] { (0, 1), (0, 2), (1, 2) })
            for (int v = 0; v < 4; v++) Assert.Equal(0f, d[b, p, v]);
    }

    [Fact]
    public void TheSameSeedGivesTheSameWeightsBitForBit()
    {
        var a = NewTrainer(Spec());
        var b = NewTrainer(Spec());
        var c = NewTrainer(Spec(), seed: 4);
        for (int i = 0; i < 3; i++) { a.TrainStep(); b.TrainStep(); c.TrainStep(); }
        foreach (var ((name, ta), (_, tb)) in a.Model.Weights.Named().Zip(b.Model.Weights.Named())) Assert.True(ta.Data.AsSpan().SequenceEqual(tb.Data), name);
        Assert.False(a.Model.Weights.W_E.Data.AsSpan().SequenceEqual(c.Model.Weights.W_E.Data));
    }

    [Fact]
    public void AccumulatedMicroBatchesGiveTheGradientOfOneBatch()
    {
        var spec = Spec();
        var whole = NewTrainer(spec);
        var split = NewTrainer(spec);
        var batch = whole.Task.TrainBatch(1, 0, 6);
        var ids = batch.Tokens.Sequences();
        TrainingBatch Part(int from, int count) => new(new SharpLens.Tokenization.TokenBatch(ids.Skip(from).Take(count).ToList(), spec.Model.BosTokenId),
            batch.LossMask.AsSpan(from * 16, count * 16).ToArray());
        var (l1, _) = whole.Accumulate([batch]);
        var (l2, _) = split.Accumulate([Part(0, 2), Part(2, 4)]);
        Assert.Equal(l1, l2, 6);
        foreach (var (name, _) in whole.Model.Parameters)
            TensorAssert.Close(whole.Gradients[name], split.Gradients[name], name, atol: 1e-6f, rtol: 1e-4f);
    }

    [Fact]
    public void AfterUpdatesTheRepackedNetworkComputesExactlyWhatAFreshlyBuiltModelComputes()
    {
        var spec = Spec();
        var trainer = NewTrainer(spec);
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        Assert.True(trainer.Network.HoldsBackwardWeights, "the backward's packed weights must be held, so their repacking is checked too");
        var batch = trainer.Task.TrainBatch(7, 0, 4);
        var repacked = trainer.Network.Forward(batch.Tokens);
        var fresh = trainer.Model.Build().Forward(batch.Tokens);
        Assert.True(repacked.Data.AsSpan().SequenceEqual(fresh.Data), "logits of the repacked network differ from a freshly built model's");
        // Gradients: the trained trainer (repacked forward and backward weights) against a new trainer over the same weights.
        var (loss, _) = trainer.Accumulate([batch]);
        var other = new Trainer(TrainableModel.FromWeights(spec, trainer.Model.Weights, "test"), trainer.Task, trainer.Options, trainer.Seed);
        var (freshLoss, _) = other.Accumulate([batch]);
        Assert.Equal(freshLoss, loss);
        foreach (var (name, _) in trainer.Model.Parameters)
            Assert.True(trainer.Gradients[name].Data.AsSpan().SequenceEqual(other.Gradients[name].Data), $"{name}: gradient differs after repacking");
    }

    [Fact]
    public void ParameterGradientsAreTheSameWhetherOrNotTheBackwardReportsThePatternGradient()
    {
        // Without hook_pattern's gradient to report, the attention backward computes each query's row up to the
        // diagonal only: the parameter gradients must equal those of the full row (dPattern reported).
        var spec = Spec();
        var trainer = NewTrainer(spec);
        var batch = trainer.Task.TrainBatch(2, 0, 3);
        var model = trainer.Model.Build();
        var (logits, cache) = model.RunWithCache(batch.Tokens, model.BackwardHooks(parameters: true));
        var dLogits = SharpLens.Tensors.Tensor.Zeros(logits.Shape);
        NextTokenLoss.Sum(logits, batch, batch.Targets, dLogits);
        var fast = new SharpLens.Model.Backward.ParameterGradients();
        var full = new SharpLens.Model.Backward.ParameterGradients();
        SharpLens.Model.Backward.TransformerBackward.FromLogits(model, cache, batch.Tokens, dLogits, keep: _ => false, parameters: fast);
        var hooks = SharpLens.Model.Backward.TransformerBackward.FromLogits(model, cache, batch.Tokens, dLogits, keep: null, parameters: full);
        Assert.True(hooks.Contains("blocks.0.attn.hook_pattern"));
        Assert.Equal(full.Keys.Order(), fast.Keys.Order());
        foreach (var name in full.Keys)
            TensorAssert.Close(full[name], fast[name], name, atol: 1e-7f, rtol: 1e-5f);
    }
}
