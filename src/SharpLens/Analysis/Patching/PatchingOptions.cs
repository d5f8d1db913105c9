namespace SharpLens.Analysis.Patching;

/// <summary>Options shared by every patching sweep of one <see cref="ActivationPatcher"/>.</summary>
public sealed record PatchingOptions
{
    /// <summary>Plain (reference) or Exact (fast, same numbers). Default Exact.</summary>
    public PatchingMethod Method { get; init; } = PatchingMethod.Exact;
    /// <summary>Default: clean into corrupted (denoising).</summary>
    public PatchDirection Direction { get; init; } = PatchDirection.CleanIntoCorrupted;
    /// <summary>How position columns are counted when prompt lengths differ.</summary>
    public Alignment Alignment { get; init; } = Alignment.Start;
    /// <summary>Position columns of by-position sweeps: absolute (Start) or negative offsets from the final token
    /// (End, -1 = final). Null: every position present in all prompts. A position missing from a prompt is an error.</summary>
    public IReadOnlyList<int>? Positions { get; init; }
    /// <summary>String tokens used to label position columns ("We_1"); for <see cref="Alignment.Start"/> indexed by
    /// absolute position, for <see cref="Alignment.End"/> the tokens of the first prompt. Null: "pos_1".</summary>
    public IReadOnlyList<string>? StrTokens { get; init; }
    /// <summary>Exact mode: most batch rows (patches x prompts) in one pass. The default, 128, keeps a pass's largest
    /// buffer (the MLP activations, [rows·positions, d_mlp]) at ~12 MB for GPT-2 small and prompts of ~8 tokens: a
    /// young-generation allocation under the CLI's 16 MB large-object threshold. At 256 rows the same buffers went to
    /// the large object heap, which is collected only in full collections, and a neuron sweep peaked 0.65 GB higher
    /// (docs/architecture.md, "Memory"); the work per row is the same either way.</summary>
    public int MaxRowsPerPass { get; init; } = 128;
    /// <summary>Exact mode: a pass of fewer rows x positions than this costs about as much as one of this size (thin
    /// GEMMs stream the weights either way), so patches with different first changes share a pass while that is
    /// cheaper (see PassPlan); 0 keeps every pass to one first change. Internal: tests pin the work with 0.</summary>
    internal int ThinPassTokens { get; init; } = 32;
    /// <summary>Receives done/total patched runs after each pass.</summary>
    public IProgress<PatchingProgress>? Progress { get; init; }
}
