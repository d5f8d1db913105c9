using System.Diagnostics;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Training.Tasks;

namespace SharpLens.Training;

/// <summary>
/// The training loop: per step, the micro-batches' forward passes (caching what the backward reads), next-token
/// cross-entropy and d loss / d logits, the model's own backward pass (<see cref="TransformerBackward.FromLogits"/>,
/// the one the analyses use) accumulating every parameter's gradient, the tied embedding's two gradients summed, the
/// global norm clipped, and an AdamW update at the schedule's learning rate. Deterministic: the same model, task, options
/// and seed give the same weights bit for bit, and a trainer created at step s from a checkpoint continues exactly.
/// </summary>
public sealed class Trainer
{
    private readonly ParameterGradients _gradients;
    private readonly HashSet<string> _backwardHooks;
    private HookedTransformer? _network;
    private readonly TensorPool _activations = new(); // the forward passes' memory, reused from step to step
    private Tensor? _dLogits;

    /// <summary>A trainer of <paramref name="model"/> on <paramref name="task"/>, at <paramref name="optimizer"/>'s step
    /// (a fresh optimizer: step 0).</summary>
    /// <param name="model">the parameters to train (updated in place)</param>
    /// <param name="task">where batches come from</param>
    /// <param name="options">steps, batch, schedule, clipping, evaluation</param>
    /// <param name="seed">the run's seed (the batches' stream)</param>
    /// <param name="optimizer">the optimizer state to continue from, or null for a fresh AdamW</param>
    public Trainer(TrainableModel model, TrainingTask task, TrainingOptions options, long seed, AdamW? optimizer = null)
    {
        options.Validate();
        task.Validate(model.Spec.Model);
        Model = model;
        Task = task;
        Options = options;
        Seed = seed;
        Optimizer = optimizer ?? new AdamW(options.Adam);
        _gradients = new ParameterGradients(model.GradientFilter());
        _backwardHooks = new HashSet<string>(model.Build().BackwardHooks(parameters: true), StringComparer.Ordinal);
    }

    /// <summary>The model being trained. Its weights are packed for the GEMM once, on the first pass, and repacked in
    /// place after every update of <see cref="TrainStep"/>: change them from outside only before the first pass.</summary>
    public TrainableModel Model { get; }
    /// <summary>The data.</summary>
    public TrainingTask Task { get; }
    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }
    /// <summary>The run's seed.</summary>
    public long Seed { get; }
    /// <summary>The optimizer (its <see cref="AdamW.Step"/> is the number of steps done).</summary>
    public AdamW Optimizer { get; }
    /// <summary>Steps done.</summary>
    public long Step => Optimizer.Step;
    /// <summary>The gradients of the last step (after clipping), keyed by TransformerLens parameter name.</summary>
    public ParameterGradients Gradients => _gradients;

    /// <summary>One optimizer step; returns its record (eval loss filled in on evaluation steps).</summary>
    /// <exception cref="TrainingDivergedException">the loss or gradient norm is NaN or infinite (weights untouched).</exception>
    public TrainingRecord TrainStep()
    {
        var clock = Stopwatch.StartNew();
        long step = Step; // 0-based index of this step
        var batches = Enumerable.Range(0, Options.GradientAccumulation)
            .Select(i => Task.TrainBatch(Seed, step * Options.GradientAccumulation + i, Options.BatchSize)).ToArray();
        var (loss, tokens) = Accumulate(batches);
        if (!double.IsFinite(loss)) throw new TrainingDivergedException(step + 1, $"the loss is {loss}");
        var gradients = Model.Parameters.Select(p => _gradients[p.Name].Data).ToArray();
        double norm = GradientClipping.GlobalNorm(gradients);
        if (!double.IsFinite(norm)) throw new TrainingDivergedException(step + 1, $"the gradient norm is {norm}");
        GradientClipping.Clip(gradients, norm, Options.MaxGradNorm);
        double lr = Options.Schedule.At(step);
        Optimizer.Update(Model.Parameters.Select(p => (p.Name, p.Tensor, _gradients[p.Name])), lr);
        Model.SyncTiedUnembedding();
        _network?.RepackWeights();
        double seconds = clock.Elapsed.TotalSeconds;
        double? eval = Options.EvalEvery > 0 && (Step % Options.EvalEvery == 0 || Step == Options.Steps) ? EvalLoss() : null;
        return new TrainingRecord(Step, loss, eval, lr, norm, tokens / Math.Max(seconds, 1e-9));
    }

    /// <summary>The mean loss over <paramref name="batches"/> (one optimizer step's micro-batches) and its gradient
    /// with respect to every trained parameter into <see cref="Gradients"/> (zeroed first; the tied W_E holds both of its
    /// uses), unclipped.</summary>
    /// <param name="batches">the micro-batches</param>
    /// <returns>the mean loss over their counted predictions and the number of tokens they hold</returns>
    internal (double Loss, long Tokens) Accumulate(IReadOnlyList<TrainingBatch> batches)
    {
        double targets = batches.Sum(b => b.Targets);
        if (targets == 0) throw new InvalidInputException("a training batch has no predictions that count: the task's sequences are too short");
        var model = Network;
        _gradients.Zero();
        double lossSum = 0;
        long tokens = 0;
        foreach (var batch in batches)
        {
            var cache = new ActivationCache(model);
            var logits = model.Run(batch.Tokens, new ForwardOptions { Cache = cache, CacheFilter = _backwardHooks.Contains, Pool = _activations });
            if (_dLogits is null || !_dLogits.Shape.AsSpan().SequenceEqual(logits.Shape)) _dLogits = Tensor.Zeros(logits.Shape);
            lossSum += NextTokenLoss.Sum(logits, batch, targets, _dLogits);
            TransformerBackward.FromLogits(model, cache, batch.Tokens, _dLogits, keep: _ => false, parameters: _gradients);
            Recycle(cache, logits);
            tokens += batch.Tokens.Ids.Length;
        }
        Model.FoldTiedGradient(_gradients);
        return (lossSum / targets, tokens);
    }

    /// <summary>The model over <see cref="Model"/>'s weights that the passes run: built on first use, its packed weights
    /// refreshed in place after every update (<see cref="HookedTransformer.RepackWeights"/>), so a step allocates no
    /// weights; it computes exactly what a model built from the same weights computes (TrainerTests).</summary>
    internal HookedTransformer Network => _network ??= Model.Build();

    /// <summary>Gives the cached activations and the logits of a finished micro-batch back to the pool the next forward
    /// pass takes its memory from (nothing else holds them: the cache is the trainer's own). A tensor cached under two
    /// names (resid_post of one block is resid_pre of the next) goes back once.</summary>
    private void Recycle(ActivationCache cache, Tensor logits)
    {
        var seen = new HashSet<float[]>(ReferenceEqualityComparer.Instance) { logits.Data };
        foreach (var name in cache.Keys)
            if (cache.TryGet(name, out var t)) seen.Add(t.Data);
        foreach (var data in seen) _activations.Give(data);
    }

    /// <summary>The mean loss over the task's first <see cref="TrainingOptions.EvalBatches"/> held-out batches.</summary>
    public double EvalLoss()
    {
        var model = Network;
        double sum = 0, count = 0;
        for (int i = 0; i < Options.EvalBatches; i++)
        {
            var batch = Task.EvalBatch(Seed, i, Options.BatchSize);
            var logits = model.Forward(batch.Tokens);
            sum += NextTokenLoss.Sum(logits, batch, 1, null);
            count += batch.Targets;
        }
        return count == 0 ? double.NaN : sum / count;
    }
}
