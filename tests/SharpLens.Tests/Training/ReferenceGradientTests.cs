using SharpLens.Tests.Support;
using SharpLens.Training;
using SharpLens.Training.Tasks;

namespace SharpLens.Tests.Training;

/// <summary>
/// The training step's parameter gradients against the independent PyTorch reference (tests/reference/make_fixtures.py:
/// <c>param_grad.NAME</c> = d lm_loss / d parameter on the raw weights, float64, each checked there against finite
/// differences), for every GPT-2 fixture and every trained parameter. The reference unties W_E and W_U as
/// TransformerLens does; training ties them, so W_E's gradient must be param_grad.W_E + param_grad.W_Uᵀ.
/// </summary>
public class ReferenceGradientTests
{
    /// <summary>A task that serves one fixed batch (the fixture's clean prompts, every prediction counted).</summary>
    private sealed class FixedBatch(TrainingBatch batch) : TrainingTask
    {
        public override string Name => "fixed";
        public override int SequenceLength => batch.Tokens.Pos;
        public override TrainingBatch TrainBatch(long seed, long index, int size) => batch;
        public override TrainingBatch EvalBatch(long seed, long index, int size) => batch;
        public override string Describe() => "fixed";
    }

    public static TheoryData<string> Models() => new(Fixtures.Models);

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryTrainedParameterGradientMatchesThePyTorchReference(string fixture)
    {
        var model = TrainableModel.Load(Fixtures.Folder(fixture));
        var batch = TrainingBatch.EveryPosition(Fixtures.Tokens(fixture).Clean);
        var trainer = new Trainer(model, new FixedBatch(batch), new TrainingOptions { Steps = 1, BatchSize = batch.Tokens.Batch, EvalEvery = 0 }, 0);
        var (loss, _) = trainer.Accumulate([batch]);
        using var golden = Fixtures.Golden(fixture, processed: false);
        Assert.Equal(golden.ReadTensor("lm_loss").Data[0], loss, 1e-5);
        int v = model.Spec.Model.DVocab, d = model.Spec.Model.DModel;
        foreach (var (name, _) in model.Parameters)
        {
            var expected = golden.ReadTensor("param_grad." + name);
            if (name == "embed.W_E")
            {
                var wU = golden.ReadTensor("param_grad.unembed.W_U");
                for (int t = 0; t < v; t++)
                    for (int i = 0; i < d; i++) expected.Data[t * d + i] += wU.Data[i * v + t];
            }
            float scale = expected.Data.Max(Math.Abs);
            TensorAssert.Close(expected, trainer.Gradients[name], $"{fixture} {name}", atol: 1e-4f * Math.Max(scale, 1e-3f), rtol: 1e-3f);
        }
        Assert.Equal(model.Parameters.Count, model.Parameters.Select(p => p.Name).Count(n => golden.Contains("param_grad." + n)));
    }
}
