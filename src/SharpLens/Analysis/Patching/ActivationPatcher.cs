using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// Activation patching (TransformerLens' <c>transformer_lens.patching</c>): runs the clean and corrupted prompts
/// once, then for each patch replaces one activation slice of the target run with the source run's and reports the
/// RAW metric. Every named sweep (NamedPatches.cs) is a list of patches handed to one generic mechanism; the
/// result is a <see cref="Grid"/> whose Values are the mean over prompts and whose PerPrompt holds
/// [prompt, rows, cols]. Normalize with <see cref="Normalize"/> if wanted.
/// </summary>
public sealed partial class ActivationPatcher
{
    private readonly PatchingRuns _runs;
    private readonly ExactEngine _exact;

    public ActivationPatcher(HookedTransformer model, PatchingInputs inputs, PatchingOptions? options = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Inputs = inputs ?? throw new ArgumentNullException(nameof(inputs));
        Options = options ?? new PatchingOptions();
        if (Options.MaxRowsPerPass < 1) throw new InvalidInputException($"MaxRowsPerPass must be at least 1, got {Options.MaxRowsPerPass}");
        _runs = new PatchingRuns(model, inputs, Options.Direction);
        _exact = new ExactEngine(model, _runs, Options);
        Positions = PositionAxis.Build(_runs.Target, Options);
    }

    public HookedTransformer Model { get; }
    public PatchingInputs Inputs { get; }
    public PatchingOptions Options { get; }
    /// <summary>[prompt] metric of the unpatched clean run.</summary>
    public float[] CleanBaseline => Options.Direction == PatchDirection.CleanIntoCorrupted ? _runs.SourceBaseline : _runs.TargetBaseline;
    /// <summary>[prompt] metric of the unpatched corrupted run.</summary>
    public float[] CorruptedBaseline => Options.Direction == PatchDirection.CleanIntoCorrupted ? _runs.TargetBaseline : _runs.SourceBaseline;
    /// <summary>Patched runs computed so far by this patcher (all sweeps).</summary>
    public int PatchedRuns { get; private set; }
    internal PositionAxis Positions { get; }

    /// <summary>(patched - corrupted) / (clean - corrupted) with this patcher's mean baselines.</summary>
    public Grid Normalize(Grid raw) => PatchingNormalization.Normalize(raw, CleanBaseline, CorruptedBaseline);

    /// <summary>Runs <paramref name="variants"/> (one per grid cell) and assembles the grid.</summary>
    internal Grid Sweep(string name, IReadOnlyList<string> rows, IReadOnlyList<string> cols, List<PatchVariant> variants,
        string rowTitle, string colTitle)
    {
        int cells = rows.Count * cols.Count, prompts = Inputs.Prompts, done = 0;
        var results = new float[cells][];
        void Done(int n)
        {
            done += n; PatchedRuns += n;
            Options.Progress?.Report(new PatchingProgress(done, variants.Count, name));
        }
        if (Options.Method == PatchingMethod.Plain) PlainEngine.Run(Model, _runs, variants, results, Done);
        else _exact.Run(variants, results, Done);

        var perPrompt = Tensor.Zeros(prompts, rows.Count, cols.Count);
        for (int c = 0; c < cells; c++)
        {
            var values = results[c] ?? throw new InvalidOperationException($"patch cell {c} of '{name}' was not computed");
            for (int b = 0; b < prompts; b++) perPrompt.Data[b * cells + c] = values[b];
        }
        var grid = Grid.FromPerPrompt(perPrompt, rows, cols);
        return new Grid(grid.Values, rows, cols, perPrompt) { Title = $"{name} patching", RowTitle = rowTitle, ColTitle = colTitle };
    }
}
