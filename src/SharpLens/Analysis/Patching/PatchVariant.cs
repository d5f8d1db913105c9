using SharpLens.Tensors;

namespace SharpLens.Analysis.Patching;

/// <summary>One patched run: the grid cell it fills and the hook it edits.</summary>
internal abstract class PatchVariant(int cell, string hookName, int layer)
{
    /// <summary>Flat index row * cols + col of the result grid.</summary>
    public int Cell { get; } = cell;
    public string HookName { get; } = hookName;
    /// <summary>Block of <see cref="HookName"/> (0 for hooks before the first block): an exact run may start here.</summary>
    public int Layer { get; } = layer;

    /// <summary>Layer of a hook name "blocks.{l}.…"; 0 for embeddings, the last block for ln_final.</summary>
    public static int LayerOf(string hookName, int nLayers)
    {
        if (hookName.StartsWith("blocks.", StringComparison.Ordinal))
        {
            int dot = hookName.IndexOf('.', 7);
            return int.Parse(hookName.AsSpan(7, dot - 7), System.Globalization.CultureInfo.InvariantCulture);
        }
        return hookName.StartsWith("ln_final", StringComparison.Ordinal) ? nLayers - 1 : 0;
    }
}

/// <summary>A user patch (<see cref="PatchSetter"/>): run as a whole-batch hook, like TransformerLens.</summary>
internal sealed class CustomVariant(int cell, string hookName, int layer, int row, int col, PatchSetter setter)
    : PatchVariant(cell, hookName, layer)
{
    /// <param name="target">activation of the patched run [prompt, ...]</param>
    /// <param name="source">same hook of the other run [prompt, ...]</param>
    public Tensor? Apply(Tensor target, Tensor source) => setter(target, source, row, col);
}
