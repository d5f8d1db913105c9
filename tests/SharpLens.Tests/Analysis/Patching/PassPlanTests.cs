using SharpLens.Analysis.Patching;

namespace SharpLens.Tests.Analysis.Patching;

/// <summary>Which first-change groups <see cref="PassPlan"/> merges into one exact pass.</summary>
public class PassPlanTests
{
    private static List<SlicePatch> Patches(int n) =>
        Enumerable.Range(0, n).Select(i => SlicePatch.Whole(i, "blocks.0.hook_resid_pre", 0, null)).ToList();

    private static int[][] Plan(int positions, int prompts, int thin, params (int Start, int Count)[] groups) =>
        PassPlan.Merge(groups.Select(g => (g.Start, Patches(g.Count))), positions, prompts, thin)
            .Select(p => new[] { p.Start, p.Patches.Count }).ToArray();

    /// <summary>One prompt, one patch per position: every pass is thin, so all share the earliest start.</summary>
    [Fact]
    public void ThinGroupsMergeIntoOnePassFromTheEarliestStart() =>
        Assert.Equal([[2, 7]], Plan(9, 1, 32, (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1), (8, 1)));

    /// <summary>Eight prompts: early groups are already wide (8 rows x 7 positions), so they keep their own start and only
    /// the thin tail merges.</summary>
    [Fact]
    public void WideGroupsKeepTheirOwnStart() =>
        Assert.Equal([[2, 1], [3, 1], [4, 1], [5, 1], [6, 3]], Plan(9, 8, 32, (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1), (8, 1)));

    /// <summary>A thin floor of 0 never merges (the positional plan the work-pinning tests use).</summary>
    [Fact]
    public void ZeroFloorNeverMerges() =>
        Assert.Equal([[2, 1], [3, 2], [8, 1]], Plan(9, 1, 0, (2, 1), (3, 2), (8, 1)));
}
