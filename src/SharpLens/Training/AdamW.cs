using SharpLens.Tensors;

namespace SharpLens.Training;

/// <summary>AdamW's settings, with torch's defaults (betas 0.9/0.999, eps 1e-8).</summary>
public sealed record AdamWOptions
{
    /// <summary>β₁, the decay of the first moment.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>β₂, the decay of the second moment.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>ε added to √v̂.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled weight decay λ (each step p ← p − lr·λ·p before the Adam update).</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Decay every parameter, as TransformerLens' <c>train.py</c> does (it hands <c>model.parameters()</c> to
    /// torch's AdamW); false (the default, nanoGPT's and Hugging Face's convention) decays only matrices that multiply
    /// activations: not biases, LayerNorm weights or the embeddings (W_E, W_pos).</summary>
    public bool DecayAll { get; init; }

    /// <summary>Whether the parameter named <paramref name="name"/> is decayed.</summary>
    /// <param name="name">a TransformerLens parameter name</param>
    public bool Decays(string name)
    {
        if (DecayAll) return true;
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        return leaf.StartsWith("W_", StringComparison.Ordinal) && leaf is not ("W_E" or "W_pos");
    }
}

/// <summary>
/// torch.optim.AdamW (single-tensor path) over named parameters: with t the step (from 1), g the gradient,
/// p ← p·(1 − lr·λ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
/// The moments are kept per parameter (allocated once) and saved with checkpoints.
/// </summary>
public sealed class AdamW
{
    private readonly Dictionary<string, (float[] M, float[] V)> _moments = new(StringComparer.Ordinal);

    /// <summary>An optimizer with <paramref name="options"/> and zero moments.</summary>
    /// <param name="options">β₁, β₂, ε, weight decay and what it applies to</param>
    public AdamW(AdamWOptions options) => Options = options;

    /// <summary>The settings.</summary>
    public AdamWOptions Options { get; }
    /// <summary>Steps taken (t of the last update).</summary>
    public long Step { get; set; }

    /// <summary>The first and second moments of the parameter named <paramref name="name"/> (same length as it).</summary>
    /// <param name="name">a parameter name</param>
    /// <param name="length">the parameter's element count (moments are created at zero the first time)</param>
    public (float[] M, float[] V) Moments(string name, int length)
    {
        if (!_moments.TryGetValue(name, out var m)) _moments[name] = m = (new float[length], new float[length]);
        return m;
    }

    /// <summary>Names that have moments.</summary>
    public IEnumerable<string> Names => _moments.Keys;

    /// <summary>Advances the step counter and updates every parameter with its gradient.</summary>
    /// <param name="parameters">(name, value, gradient) of each parameter, value updated in place</param>
    /// <param name="learningRate">this step's learning rate</param>
    public void Update(IEnumerable<(string Name, Tensor Value, Tensor Gradient)> parameters, double learningRate)
    {
        Step++;
        double b1 = Options.Beta1, b2 = Options.Beta2;
        double correction1 = 1 - Math.Pow(b1, Step), correction2Sqrt = Math.Sqrt(1 - Math.Pow(b2, Step));
        float stepSize = (float)(learningRate / correction1), eps = (float)Options.Eps;
        float fb1 = (float)b1, fb2 = (float)b2, c2 = (float)correction2Sqrt;
        foreach (var (name, value, gradient) in parameters)
        {
            var p = value.Data;
            var g = gradient.Data;
            var (m, v) = Moments(name, p.Length);
            float decay = Options.Decays(name) ? (float)(1 - learningRate * Options.WeightDecay) : 1f;
            for (int i = 0; i < p.Length; i++)
            {
                float gi = g[i];
                p[i] *= decay;
                m[i] += (gi - m[i]) * (1 - fb1);                  // torch: exp_avg.lerp_(grad, 1 - beta1)
                v[i] = v[i] * fb2 + (1 - fb2) * gi * gi;          // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
                p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / c2 + eps);
            }
        }
    }
}

/// <summary>Linear warm-up from 0 to the peak learning rate over <see cref="WarmupSteps"/>, then cosine decay to
/// <see cref="MinLearningRate"/> at <see cref="TotalSteps"/> (nanoGPT's schedule; TransformerLens' train.py has the
/// warm-up only).</summary>
/// <param name="Peak">the learning rate after warm-up</param>
/// <param name="WarmupSteps">steps of linear warm-up (0: none)</param>
/// <param name="TotalSteps">the step at which the decay reaches <paramref name="MinLearningRate"/></param>
/// <param name="MinLearningRate">the floor of the decay</param>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, double MinLearningRate)
{
    /// <summary>The learning rate of step <paramref name="step"/> (0-based): Peak·(step+1)/warm-up during warm-up, then
    /// min + ½(1 + cos(π·progress))(Peak − min) with progress = (step − warm-up)/(total − warm-up), held at min after.</summary>
    /// <param name="step">0-based step</param>
    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps));
        return MinLearningRate + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (Peak - MinLearningRate);
    }
}
