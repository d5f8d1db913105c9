namespace SharpLens.Analysis.Patching;

/// <summary>
/// Which patches of one layer and entry share an exact pass. A pass computes every row from its earliest first
/// change, so mixing first changes makes later-starting rows recompute positions their patch cannot reach (wasted
/// FLOPs); but a pass with few rows x positions is a thin GEMM whose time is the weights' streaming, not its FLOPs
/// (one prompt pair: 1 row x a few positions per pass, ~100 passes per sweep). Groups are merged while the merged
/// pass costs less than the separate ones under the model cost(pass) = max(rows x positions, thin floor).
/// </summary>
internal static class PassPlan
{
    /// <summary>Merges <paramref name="byStart"/> (patch groups by first changed position, in increasing order) into
    /// passes; each pass starts at its earliest group's position.</summary>
    /// <param name="byStart">groups of patches with the same first change, ordered by that position</param>
    /// <param name="positions">the target run's padded length</param>
    /// <param name="prompts">batch rows per patch</param>
    /// <param name="thinTokens">rows x positions below which a pass costs as much as one of this size (0: never merge)</param>
    public static IEnumerable<(int Start, List<SlicePatch> Patches)> Merge(
        IEnumerable<(int Start, List<SlicePatch> Patches)> byStart, int positions, int prompts, int thinTokens)
    {
        (int Start, List<SlicePatch> Patches)? current = null;
        foreach (var group in byStart)
        {
            if (current is { } pass)
            {
                long Cost(int patches, int start) => Math.Max(thinTokens, (long)patches * prompts * (positions - start));
                long merged = Cost(pass.Patches.Count + group.Patches.Count, pass.Start);
                long separate = Cost(pass.Patches.Count, pass.Start) + Cost(group.Patches.Count, group.Start);
                if (merged < separate)
                {
                    pass.Patches.AddRange(group.Patches);
                    continue;
                }
                yield return pass;
            }
            current = (group.Start, new List<SlicePatch>(group.Patches));
        }
        if (current is { } last) yield return last;
    }
}
