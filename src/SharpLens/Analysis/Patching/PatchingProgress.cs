namespace SharpLens.Analysis.Patching;

/// <summary>Progress of a patching sweep: <paramref name="Done"/> of <paramref name="Total"/> patched runs,
/// in the sweep named <paramref name="Sweep"/> (e.g. "resid_pre").</summary>
public readonly record struct PatchingProgress(int Done, int Total, string Sweep)
{
    /// <summary>Done / Total, in [0, 1] (1 for an empty sweep).</summary>
    public double Fraction => Total == 0 ? 1 : (double)Done / Total;
}
