using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace SharpLens.Generation;

/// <summary>How the next token is chosen: greedy when <see cref="Temperature"/> is 0, else sampled after top-k / top-p filtering.</summary>
public sealed record SamplingOptions
{
    /// <summary>How many tokens to append to the prompt at most (0 returns the prompt unchanged).</summary>
    public int MaxNewTokens { get; init; } = 20;
    /// <summary>Softmax temperature applied to the logits before sampling; 0 means greedy (argmax).</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep only the k most likely tokens (0 = all).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 = all).</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Seed of the sampling random generator, so a run can be repeated; null draws a fresh seed.</summary>
    public int? Seed { get; init; }
    /// <summary>Stop when this token is produced (null = never).</summary>
    public int? StopToken { get; init; }

    /// <summary>Throws <see cref="InvalidInputException"/> naming the first option out of range (negative counts,
    /// negative temperature, top-p outside (0, 1]).</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new InvalidInputException($"--max-new-tokens must be at least 0, got {MaxNewTokens}");
        if (Temperature < 0) throw new InvalidInputException($"--temperature must be 0 (greedy) or positive, got {Temperature}");
        if (TopK < 0) throw new InvalidInputException($"--top-k must be 0 (off) or positive, got {TopK}");
        if (TopP is <= 0 or > 1) throw new InvalidInputException($"--top-p must be in (0, 1], got {TopP}");
    }
}

/// <summary>Picks a token from one row of logits.</summary>
public sealed class Sampler(SamplingOptions options)
{
    private readonly Random _random = options.Seed is int s ? new Random(s) : new Random();

    /// <param name="logits">[d_vocab]</param>
    public int Next(ReadOnlySpan<float> logits)
    {
        if (options.Temperature == 0) return TensorPrimitives.IndexOfMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var keys = new float[logits.Length];
        for (int i = 0; i < keys.Length; i++) keys[i] = -logits[i];
        Array.Sort(keys, order);
        int keep = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
        var probs = new double[keep];
        double max = -keys[0] / options.Temperature, total = 0;
        for (int i = 0; i < keep; i++) total += probs[i] = Math.Exp(-keys[i] / options.Temperature - max);
        if (options.TopP < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[i] / total;
                if (cumulative >= options.TopP) { keep = i + 1; break; }
            }
            total = probs.Take(keep).Sum();
        }
        double u = _random.NextDouble() * total;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[i];
            if (u <= 0) return order[i];
        }
        return order[keep - 1];
    }
}
