namespace SharpLens.Analysis.Patching;

/// <summary>How patched runs are computed. Both give the same numbers (within float rounding).</summary>
public enum PatchingMethod
{
    /// <summary>The reference: one full forward pass per patch with a hook, exactly what TransformerLens does.</summary>
    Plain,
    /// <summary>Fast and exact: reuses the unpatched run up to the patched layer and before the first changed
    /// position (KV cache), batches many patches into one pass and unembeds only the final positions and the
    /// metric's needed tokens.</summary>
    Exact,
}
