namespace SharpLens.Model.Components;

/// <summary>
/// Where a block's forward may stop early (<see cref="ForwardOptions.StopAfter"/>): right after one of the hook points
/// on its main path. <see cref="None"/> runs the whole block (it ends at hook_resid_post).
/// </summary>
internal enum BlockStop
{
    /// <summary>Run the whole block.</summary>
    None,
    /// <summary>After blocks.L.hook_resid_pre.</summary>
    ResidPre,
    /// <summary>After blocks.L.hook_resid_mid.</summary>
    ResidMid,
    /// <summary>After blocks.L.mlp.hook_pre.</summary>
    MlpPre,
    /// <summary>After blocks.L.mlp.hook_post.</summary>
    MlpPost,
    /// <summary>After blocks.L.hook_mlp_out.</summary>
    MlpOut,
}

/// <summary>Reads a <see cref="ForwardOptions.StopAfter"/> hook name as (layer, stop).</summary>
internal static class BlockStops
{
    private static readonly (string Suffix, BlockStop Stop)[] Points =
    [
        ("hook_resid_pre", BlockStop.ResidPre), ("hook_resid_mid", BlockStop.ResidMid), ("mlp.hook_pre", BlockStop.MlpPre),
        ("mlp.hook_post", BlockStop.MlpPost), ("hook_mlp_out", BlockStop.MlpOut), ("hook_resid_post", BlockStop.None),
    ];

    /// <summary>The block and the point in it where a pass stopping after <paramref name="hookName"/> (a validated full
    /// hook name) ends; an error naming the supported points for any other hook.</summary>
    public static (int Layer, BlockStop Stop) Parse(string hookName)
    {
        var parts = hookName.Split('.', 3);
        if (parts.Length == 3 && parts[0] == "blocks" && int.TryParse(parts[1], out int layer))
            foreach (var (suffix, stop) in Points)
                if (parts[2] == suffix) return (layer, stop);
        throw new InvalidInputException($"StopAfter '{hookName}' is not a block's main-path hook point: use blocks.L. followed by "
            + string.Join(", ", Points.Select(p => p.Suffix)));
    }
}
