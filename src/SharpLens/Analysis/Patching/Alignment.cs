namespace SharpLens.Analysis.Patching;

/// <summary>How position columns map to token positions when prompts in the batch have different lengths.</summary>
public enum Alignment
{
    /// <summary>Absolute positions counted from the start (default): column p is token p of every prompt.</summary>
    Start,
    /// <summary>Positions counted back from each prompt's final token: column -1 is every prompt's final token,
    /// -2 the one before, and so on.</summary>
    End,
}
