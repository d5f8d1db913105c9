using System.Diagnostics;
using SharpLens.Model;
using SharpLens.Training.Tasks;

namespace SharpLens.Training;

/// <summary>Speed of the training loop (<c>sharplens bench --suites training</c>).</summary>
/// <param name="Steps">Timed optimizer steps (the warm-up steps are not counted).</param>
/// <param name="Tokens">Tokens the timed steps trained on (forward and backward).</param>
/// <param name="Seconds">Wall-clock time of the timed steps.</param>
/// <param name="CpuSeconds">CPU time of the whole process over the timed steps (all cores; on a shared host the
/// steadier number).</param>
/// <param name="TokensPerSecond">Tokens per wall-clock second.</param>
/// <param name="MatmulFlopsPerStep">The matrix products of one step: 3 × <see cref="ForwardCost"/>'s flops of the
/// step's forward pass (every product of the forward is done once more for the inputs' gradient and once for the
/// weights').</param>
/// <param name="Gflops">MatmulFlopsPerStep × Steps / Seconds, in GFLOP/s: what to compare with SGEMM's speed.</param>
public sealed record TrainingBenchmarkResult(int Steps, long Tokens, double Seconds, double CpuSeconds, double TokensPerSecond,
    double MatmulFlopsPerStep, double Gflops);

/// <summary>
/// Times <see cref="Trainer.TrainStep"/> as <c>sharplens train</c> runs it: a model initialised from a config, the
/// induction task, AdamW, clipping and the schedule, no evaluation, logging or checkpoints (their cost is per N steps,
/// not per step). The first steps are not timed: they also pay for compiling the loop (the JIT recompiles it in tiers),
/// packing the weights and the first touch of the activation memory the later steps reuse.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>The model of issue 21's induction run: 2 layers, d_model 128, 4 heads, d_vocab 2048, n_ctx 64.</summary>
    public const string InductionConfig =
        """{"n_layers": 2, "d_model": 128, "n_heads": 4, "d_vocab": 2048, "n_ctx": 64, "act_fn": "gelu_new", "normalization_type": "LN", "positional_embedding_type": "standard"}""";

    /// <summary>Trains <paramref name="warmupSteps"/> + <paramref name="steps"/> steps of <paramref name="spec"/> on the
    /// induction task (sequences of n_ctx tokens) and times the last <paramref name="steps"/>.</summary>
    /// <param name="spec">the model (default: <see cref="InductionConfig"/>)</param>
    /// <param name="steps">timed steps</param>
    /// <param name="warmupSteps">untimed steps first</param>
    /// <param name="batchSize">sequences per step (<c>sharplens train</c>'s default, 16)</param>
    public static TrainingBenchmarkResult Run(TrainingModelConfig? spec = null, int steps = 30, int warmupSteps = 5, int batchSize = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        spec ??= TrainingModelConfig.Parse(InductionConfig, "the benchmark's induction config");
        var task = TrainingTasks.Create(TrainingTasks.Settings("induction"), spec);
        var options = new TrainingOptions { Steps = warmupSteps + steps, BatchSize = batchSize, EvalEvery = 0 };
        var trainer = new Trainer(TrainableModel.Initialize(spec, seed: 0), task, options, seed: 0);
        for (int i = 0; i < warmupSteps; i++) trainer.TrainStep();
        using var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) trainer.TrainStep();
        double seconds = clock.Elapsed.TotalSeconds;
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
        var batch = task.TrainBatch(0, 0, batchSize).Tokens;
        double flops = 3 * ForwardCost.Of(trainer.Network, batch.Batch, batch.Pos).Flops;
        long tokens = (long)steps * batch.Batch * batch.Pos;
        return new TrainingBenchmarkResult(steps, tokens, seconds, cpu, tokens / seconds, flops, flops * steps / seconds / 1e9);
    }
}
