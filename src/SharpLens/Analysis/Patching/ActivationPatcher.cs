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
public sealed partial class ActivationPatcher : IPatchingEngine
{
    private readonly PatchingRuns _runs;
    private readonly ExactEngine _exact;

    /// <summary>Runs the clean and corrupted prompts of <paramref name="inputs"/> once through <paramref name="model"/>
    /// (the baselines every patch starts from); <paramref name="options"/> picks the engine, direction and alignment.</summary>
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

    /// <summary>The model being patched.</summary>
    public HookedTransformer Model { get; }
    /// <summary>The clean and corrupted prompts and the metric.</summary>
    public PatchingInputs Inputs { get; }
    /// <summary>Engine (plain or exact), direction, alignment and batching of the sweeps.</summary>
    public PatchingOptions Options { get; }
    /// <summary>[prompt] metric of the unpatched clean run.</summary>
    public float[] CleanBaseline => Options.Direction == PatchDirection.CleanIntoCorrupted ? _runs.SourceBaseline : _runs.TargetBaseline;
    /// <summary>[prompt] metric of the unpatched corrupted run.</summary>
    public float[] CorruptedBaseline => Options.Direction == PatchDirection.CleanIntoCorrupted ? _runs.TargetBaseline : _runs.SourceBaseline;
    /// <summary>Patched runs computed so far by this patcher (all sweeps).</summary>
    public int PatchedRuns { get; private set; }
    internal PositionAxis Positions { get; }
    /// <summary>The exact engine's per-sweep buffers still held after a sweep (tests: none).</summary>
    internal int SweepBuffersHeld => _exact.SweepBuffersHeld;
    /// <summary>The exact engine's work so far in rows x positions x blocks (tests: no position a patch cannot reach).</summary>
    internal long ExactRowPositionBlocks => _exact.RowPositionBlocks;

    /// <summary>(patched - corrupted) / (clean - corrupted) with this patcher's mean baselines.</summary>
    public Grid Normalize(Grid raw) => PatchingNormalization.Normalize(raw, CleanBaseline, CorruptedBaseline);

    /// <summary>The named sweep (<see cref="SweepNames"/>) over this patcher's position columns.</summary>
    /// <param name="name">canonical (or deprecated) sweep name, e.g. "resid_pre", "head_v", "head_q_by_pos", "neurons"</param>
    /// <param name="neuronLayers">layers of the "neurons" sweep (default: every layer)</param>
    /// <param name="neuronPosition">the one position "neurons" patches (default: every position)</param>
    public PatchSweep Sweep(string name, IReadOnlyList<int>? neuronLayers = null, int? neuronPosition = null) =>
        SweepNames.Build(name, Model.Config, Positions.Columns, Positions.Labels, neuronLayers, neuronPosition);

    /// <summary>Patches every site of <paramref name="sweep"/> (one patched run per site, all prompts at once) and
    /// returns the RAW metric as a grid with the sweep's labels and layout.</summary>
    public Grid Run(PatchSweep sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var variants = new List<PatchVariant>(sweep.Sites.Count);
        var resolved = new Dictionary<int, int[]>();
        for (int i = 0; i < sweep.Sites.Count; i++)
            variants.Add(SlicePatch.At(i, sweep.Sites[i], Model.Config, p => resolved.TryGetValue(p, out var abs) ? abs
                : resolved[p] = PositionAxis.Resolve(p, _runs.Target)));
        return RunVariants(sweep.Name, sweep.Rows, sweep.Cols, variants, sweep.RowTitle, sweep.ColTitle);
    }

    /// <summary>Runs <paramref name="variants"/> (one per grid cell) and assembles the grid.</summary>
    internal Grid RunVariants(string name, IReadOnlyList<string> rows, IReadOnlyList<string> cols, List<PatchVariant> variants,
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
