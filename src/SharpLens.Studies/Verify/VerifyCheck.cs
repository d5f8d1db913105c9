namespace SharpLens.Studies.Verify;

/// <summary>
/// One line of a verify report: a reference figure, a printed number list, a group's prompts or a claim, and whether
/// the run matches. <see cref="Status"/> is "ok", "exceeds" (a value beyond the tolerance), "structure" (shape, labels,
/// positions or prompts differ), "missing" (the run lacks it), "no mapping" (a reference figure verify cannot read),
/// "held" or "not held" (claims).
/// </summary>
/// <param name="Group">The study group ("re_they"), or "" for study-wide checks.</param>
/// <param name="Title">The figure's notebook title or a description of the printed value or claim.</param>
/// <param name="Source">Where our values come from ("patching/head_out", "model_check", "claim:top_components").</param>
/// <param name="Status">See the type's summary.</param>
/// <param name="Detail">The reason in words, naming the cell: "worst layer 7, head 11: 0.045 vs 0.0003 (|Δ| 0.0447 > 0.0013)".</param>
/// <param name="Cell">The worst (or first differing) cell, when there is one.</param>
/// <param name="Deviation">The largest |ours - reference| (NaN when ours is not a number).</param>
/// <param name="Allowed">The largest deviation the tolerance allowed for this figure.</param>
/// <param name="Tolerance">The tolerance applied.</param>
public sealed record VerifyCheck(string Group, string Title, string Source, string Status, string Detail,
    string? Cell = null, double? Deviation = null, double? Allowed = null, VerifyTolerance? Tolerance = null)
{
    /// <summary>True when this line makes verify fail; "missing" and "no mapping" fail unless <paramref name="allowMissing"/>.</summary>
    public bool Failed(bool allowMissing = false) =>
        Status is "exceeds" or "structure" or "not held" || (!allowMissing && Status is "missing" or "no mapping");

    /// <summary>A line for a figure the run did not compute.</summary>
    public static VerifyCheck Missing(string group, string title, string source, string why) => new(group, title, source, "missing", why);
}
