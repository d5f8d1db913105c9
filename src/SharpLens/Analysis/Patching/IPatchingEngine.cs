namespace SharpLens.Analysis.Patching;

/// <summary>
/// What every patching engine offers over one pair of runs: named sweeps over its position columns, a grid of the
/// RAW metric after each patch, and the baselines to normalize it. <see cref="ActivationPatcher"/> (plain or exact)
/// computes patched runs; <see cref="Attribution.AttributionPatcher"/> estimates them to first order. For the same
/// sweep both return grids with identical labels and layout.
/// </summary>
public interface IPatchingEngine
{
    /// <summary>The named sweep (<see cref="SweepNames"/>) over this engine's position columns.</summary>
    /// <param name="name">canonical (or deprecated) sweep name</param>
    /// <param name="neuronLayers">layers of the "neurons" sweep (default: every layer)</param>
    /// <param name="neuronPosition">the one position "neurons" patches (default: every position)</param>
    PatchSweep Sweep(string name, IReadOnlyList<int>? neuronLayers = null, int? neuronPosition = null);

    /// <summary>[rows, cols] (and per prompt [prompt, rows, cols]) metric of the patched run of each site of
    /// <paramref name="sweep"/>.</summary>
    Grid Run(PatchSweep sweep);

    /// <summary>(patched - corrupted) / (clean - corrupted) with the engine's mean baselines.</summary>
    Grid Normalize(Grid raw);

    /// <summary>[prompt] metric of the unpatched clean run.</summary>
    float[] CleanBaseline { get; }

    /// <summary>[prompt] metric of the unpatched corrupted run.</summary>
    float[] CorruptedBaseline { get; }
}
