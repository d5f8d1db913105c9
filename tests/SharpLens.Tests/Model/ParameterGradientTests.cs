using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Analysis.Attribution;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// Weight gradients of the component backward pass (every parameter, TransformerLens names) against central finite
/// differences of a next-token cross-entropy loss: for each parameter, the analytic directional derivative along a
/// random unit direction must equal (L(θ + h·u) − L(θ − h·u)) / 2h.
/// </summary>
public class ParameterGradientTests
{
    private static readonly ModelConfig Config = new() { NLayers = 2, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 23, NCtx = 8 };
    private static readonly TokenBatch Tokens = new([[3, 7, 1, 19, 4, 11], [22, 5, 5, 9, 0, 2]], padId: 0);

    // Mean next-token cross-entropy over every position but the last, in double; with its gradient d loss / d logits.
    private static (double Loss, Tensor DLogits) Loss(Tensor logits)
    {
        int batch = logits.Dim(0), pos = logits.Dim(1), vocab = logits.Dim(2), count = batch * (pos - 1);
        var dLogits = Tensor.Zeros(batch, pos, vocab);
        double loss = 0;
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < pos - 1; p++)
            {
                var row = logits.Data.AsSpan((b * pos + p) * vocab, vocab);
                int target = Tokens.Ids[b * pos + p + 1];
                double max = double.NegativeInfinity, sum = 0;
                foreach (float x in row) max = Math.Max(max, x);
                foreach (float x in row) sum += Math.Exp(x - max);
                loss += (Math.Log(sum) + max - row[target]) / count;
                for (int v = 0; v < vocab; v++)
                    dLogits.Data[(b * pos + p) * vocab + v] = (float)((Math.Exp(row[v] - max) / sum - (v == target ? 1 : 0)) / count);
            }
        return (loss, dLogits);
    }

    [Fact]
    public void EveryParameterGradientMatchesFiniteDifferences()
    {
        var model = RandomModel.Create(Config, seed: 5);
        var cache = new ActivationCache(model);
        var needed = new HashSet<string>(model.BackwardHooks(parameters: true));
        var logits = model.Run(Tokens, new ForwardOptions { Cache = cache, CacheFilter = needed.Contains });
        var (_, dLogits) = Loss(logits);
        var grads = new ParameterGradients();
        TransformerBackward.FromLogits(model, cache, Tokens, dLogits, keep: _ => false, parameters: grads);

        var rng = new Random(11);
        var names = model.Weights.Named().Select(p => p.Name).ToList();
        Assert.Equal(names.OrderBy(n => n), grads.Keys.OrderBy(n => n));
        const float h = 1e-2f;
        foreach (var (name, tensor) in model.Weights.Named())
        {
            Assert.Equal(tensor.Shape, grads[name].Shape);
            var direction = new float[tensor.Length];
            for (int i = 0; i < direction.Length; i++) direction[i] = (float)(rng.NextDouble() * 2 - 1);
            System.Numerics.Tensors.TensorPrimitives.Divide(direction, System.Numerics.Tensors.TensorPrimitives.Norm(direction), direction);
            double analytic = System.Numerics.Tensors.TensorPrimitives.Dot(grads[name].Data, direction);

            var original = (float[])tensor.Data.Clone();
            double LossAt(float step)
            {
                for (int i = 0; i < original.Length; i++) tensor.Data[i] = original[i] + step * direction[i];
                // The packed copies the GEMMs read are built with the model: build it again over the edited weights.
                return Loss(new HookedTransformer(Config, model.Weights, weightsProcessed: false).Forward(Tokens)).Loss;
            }
            double numeric = (LossAt(h) - LossAt(-h)) / (2 * h);
            original.CopyTo(tensor.Data, 0);
            Assert.True(Math.Abs(numeric - analytic) <= 2e-4 + 0.02 * Math.Abs(numeric),
                $"{name}: analytic {analytic:G6}, finite differences {numeric:G6}");
            // b_K only shifts every score of a query row by the same amount, which softmax ignores: its gradient is exactly 0.
            if (!name.EndsWith(".attn.b_K", StringComparison.Ordinal))
                Assert.True(Math.Abs(numeric) > 1e-5, $"{name}: the loss does not depend on it, so the check proves nothing");
        }
    }

    [Fact]
    public void OnlyRequestedParameterGradientsAreComputedAndHookGradientsAreUnchanged()
    {
        var model = RandomModel.Create(Config, seed: 6);
        var cache = new ActivationCache(model);
        var needed = new HashSet<string>(model.BackwardHooks(parameters: true));
        var (_, dLogits) = Loss(model.Run(Tokens, new ForwardOptions { Cache = cache, CacheFilter = needed.Contains }));
        var without = TransformerBackward.FromLogits(model, cache, Tokens, dLogits);
        var some = new ParameterGradients(n => n.EndsWith(".attn.W_O", StringComparison.Ordinal));
        var with = TransformerBackward.FromLogits(model, cache, Tokens, dLogits, parameters: some);
        Assert.Equal(["blocks.0.attn.W_O", "blocks.1.attn.W_O"], some.Keys.Order());
        Assert.Equal(without.Keys.Order(), with.Keys.Order());
        foreach (var name in without.Keys) Assert.Equal(without[name].Data, with[name].Data);
    }
}
