namespace SharpLens.Neurons.Indexing;

/// <summary>Settings of one indexing run.</summary>
public sealed record IndexOptions
{
    /// <summary>Layers to index (null: every layer).</summary>
    public IReadOnlyList<int>? Layers { get; init; }
    /// <summary>Window length in tokens, BOS included (Neuroscope's context).</summary>
    public int Context { get; init; } = 128;
    /// <summary>Examples kept per neuron.</summary>
    public int TopK { get; init; } = 20;
    /// <summary>Full-length windows per forward pass (more rows make the GEMMs faster; memory grows with it).</summary>
    public int BatchWindows { get; init; } = 8;
    /// <summary>This run processes windows whose id % ShardCount == ShardIndex.</summary>
    public int ShardIndex { get; init; }
    /// <summary>Number of shards the corpus is split into.</summary>
    public int ShardCount { get; init; } = 1;
    /// <summary>Stop (saving a resumable checkpoint) after this many windows in this run; null runs to the end.</summary>
    public long? StopAfterWindows { get; init; }
    /// <summary>How often progress is saved to the database.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Tokens recorded per neuron for its direct logit effect, each way (0 skips the W_out·W_U products).</summary>
    public int DirectEffectTokens { get; init; } = 10;
    /// <summary>Progress reports (windows, tokens, rate), after every batch.</summary>
    public IProgress<IndexProgress>? Progress { get; init; }
    /// <summary>Stops at the next batch boundary, saving a checkpoint first.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>
    /// Checks the settings that do not depend on the model (the model-dependent ones, layers and context, are checked
    /// when the run is prepared), so a caller can refuse them before loading anything.
    /// </summary>
    /// <exception cref="InvalidInputException">A setting is out of range; the message names its command-line option.</exception>
    public void Check()
    {
        if (TopK < 1) throw new InvalidInputException($"--top {TopK} must be at least 1 (Neuroscope keeps 20 examples per neuron)");
        if (BatchWindows < 1) throw new InvalidInputException($"--batch {BatchWindows} must be at least 1");
        if (ShardCount < 1 || ShardIndex < 0 || ShardIndex >= ShardCount)
            throw new InvalidInputException($"--shard {ShardIndex}/{ShardCount} is invalid: write i/n with 0 <= i < n");
        if (StopAfterWindows is < 1)
            throw new InvalidInputException($"--stop-after {StopAfterWindows} must be at least 1 window (leave it out to index the whole corpus)");
        if (CheckpointInterval < TimeSpan.Zero)
            throw new InvalidInputException($"--checkpoint-seconds {CheckpointInterval.TotalSeconds} must be 0 (save after every batch) or more");
    }
}

/// <summary>Progress of an indexing run.</summary>
/// <param name="WindowsDone">Windows of this shard processed (including earlier runs when resuming).</param>
/// <param name="WindowsTotal">Windows of this shard in the corpus.</param>
/// <param name="TokensDone">Tokens (BOS excluded) processed in this run.</param>
/// <param name="Elapsed">Time spent in this run.</param>
public sealed record IndexProgress(long WindowsDone, long WindowsTotal, long TokensDone, TimeSpan Elapsed)
{
    /// <summary>Tokens per second in this run.</summary>
    public double TokensPerSecond => Elapsed.TotalSeconds > 0 ? TokensDone / Elapsed.TotalSeconds : 0;
}
