namespace SharpLens.Training;

/// <summary>How a run trains: steps, batch, optimizer, schedule, clipping, evaluation, logging and checkpoints.</summary>
public sealed record TrainingOptions
{
    /// <summary>Optimizer steps in the whole run.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Sequences per micro-batch (one forward and backward pass).</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Micro-batches per optimizer step (their gradients add up to the gradient of one mean over all of them).</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Linear warm-up steps (default: 5% of the steps, at most 200).</summary>
    public int? WarmupSteps { get; init; }
    /// <summary>The learning rate the cosine decay ends at (default: a tenth of the peak).</summary>
    public double? MinLearningRate { get; init; }
    /// <summary>Global gradient-norm clipping threshold (torch's clip_grad_norm_); 0 = no clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>AdamW's β₁, β₂, ε and weight decay.</summary>
    public AdamWOptions Adam { get; init; } = new();
    /// <summary>Held-out loss every this many steps (and at the last step); 0 = never.</summary>
    public int EvalEvery { get; init; } = 100;
    /// <summary>Held-out batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;
    /// <summary>A log record every this many steps (and at every evaluation and the last step).</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>A checkpoint every this many steps (and at the last step); 0 = only at the end.</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>The learning-rate schedule these options describe.</summary>
    public LearningRateSchedule Schedule => new(LearningRate, WarmupSteps ?? Math.Min(200, Steps / 20), Steps, MinLearningRate ?? LearningRate / 10);

    /// <summary>Throws a one-line <see cref="InvalidInputException"/> naming the first impossible setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok) throw new InvalidInputException(message);
        }
        Check(Steps > 0, $"--steps {Steps} must be positive");
        Check(BatchSize > 0, $"--batch-size {BatchSize} must be positive");
        Check(GradientAccumulation > 0, $"--grad-accum {GradientAccumulation} must be positive");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"--lr {LearningRate} must be a positive number");
        Check(WarmupSteps is null || (WarmupSteps >= 0 && WarmupSteps <= Steps), $"--warmup {WarmupSteps} must be between 0 and --steps {Steps}");
        Check(MinLearningRate is null || (MinLearningRate >= 0 && MinLearningRate <= LearningRate), $"--min-lr {MinLearningRate} must be between 0 and --lr {LearningRate}");
        Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), $"--clip {MaxGradNorm} must be 0 (off) or positive");
        Check(Adam.WeightDecay >= 0 && double.IsFinite(Adam.WeightDecay), $"--weight-decay {Adam.WeightDecay} must be 0 or positive");
        Check(Adam.Beta1 is >= 0 and < 1 && Adam.Beta2 is >= 0 and < 1, "AdamW betas must be in [0, 1)");
        Check(Adam.Eps > 0, "AdamW eps must be positive");
        Check(EvalEvery >= 0 && EvalBatches > 0, $"--eval-every {EvalEvery} must be 0 or positive and --eval-batches {EvalBatches} positive");
        Check(LogEvery > 0, $"--log-every {LogEvery} must be positive");
        Check(CheckpointEvery >= 0, $"--checkpoint-every {CheckpointEvery} must be 0 or positive");
    }
}

/// <summary>One logged step, as a line of the JSON log.</summary>
/// <param name="Step">steps done (1 after the first update)</param>
/// <param name="Loss">mean training loss over the step's counted predictions (before the update)</param>
/// <param name="EvalLoss">mean held-out loss after the update, on evaluation steps</param>
/// <param name="LearningRate">the learning rate the update used</param>
/// <param name="GradNorm">the global gradient norm before clipping</param>
/// <param name="TokensPerSecond">tokens (forward and backward) per wall-clock second in this step</param>
public sealed record TrainingRecord(long Step, double Loss, double? EvalLoss, double LearningRate, double GradNorm, double TokensPerSecond);

/// <summary>The loss became NaN or infinite: the run stops before updating, and the last good checkpoint stays.</summary>
/// <param name="step">the step whose loss or gradient was not finite (1-based)</param>
/// <param name="what">what was not finite</param>
public sealed class TrainingDivergedException(long step, string what)
    : SharpLensException($"training diverged at step {step}: {what}; lower --lr, raise --warmup or clip harder (--clip)")
{
    /// <summary>The step whose loss or gradient was not finite (1-based).</summary>
    public long Step { get; } = step;
}
