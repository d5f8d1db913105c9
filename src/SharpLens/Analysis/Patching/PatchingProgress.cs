namespace SharpLens.Analysis.Patching;

/// <summary>Progress of a patching sweep: <paramref name="Done"/> of <paramref name="Total"/> patched runs,
/// in the sweep named <paramref name="Sweep"/> (e.g. "resid_pre").</summary>
public readonly record struct PatchingProgress(int Done, int Total, string Sweep)
{
    public double Fraction => Total == 0 ? 1 : (double)Done / Total;
}
