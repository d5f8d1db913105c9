namespace SharpLens.Analysis.Patching;

/// <summary>Which run receives activations from which.</summary>
public enum PatchDirection
{
    /// <summary>Denoising (default): CLEAN activations are patched into the CORRUPTED run.</summary>
    CleanIntoCorrupted,
    /// <summary>Noising: CORRUPTED activations are patched into the CLEAN run.</summary>
    CorruptedIntoClean,
}
