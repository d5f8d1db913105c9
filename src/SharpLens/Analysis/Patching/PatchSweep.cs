namespace SharpLens.Analysis.Patching;

/// <summary>
/// A list of patch sites laid out as a grid: cell (r, c) patches <c>Sites[r * Cols.Count + c]</c>. Every engine
/// (<see cref="ActivationPatcher"/> plain or exact, and attribution patching) turns a sweep into a
/// <see cref="Grid"/> with exactly these labels and this layout. Build named sweeps with <see cref="SweepNames.Build"/>
/// or any list of sites with <see cref="Of(string, IReadOnlyList{PatchSite})"/>.
/// </summary>
public sealed record PatchSweep
{
    /// <summary>A sweep; <paramref name="sites"/> holds rows x cols sites, row-major.</summary>
    public PatchSweep(string name, IReadOnlyList<string> rows, IReadOnlyList<string> cols, IReadOnlyList<PatchSite> sites,
        string rowTitle = "row", string colTitle = "col")
    {
        ArgumentNullException.ThrowIfNull(sites);
        if (rows.Count * cols.Count != sites.Count)
            throw new InvalidInputException($"sweep '{name}' has {rows.Count} rows x {cols.Count} cols but {sites.Count} sites: give one site per cell");
        Name = name; Rows = rows; Cols = cols; Sites = sites; RowTitle = rowTitle; ColTitle = colTitle;
    }

    /// <summary>Canonical sweep name (<see cref="SweepNames"/>) or a caller's own.</summary>
    public string Name { get; }
    /// <summary>Row labels of the result grid.</summary>
    public IReadOnlyList<string> Rows { get; }
    /// <summary>Column labels of the result grid.</summary>
    public IReadOnlyList<string> Cols { get; }
    /// <summary>[rows · cols] the site of each cell, row-major.</summary>
    public IReadOnlyList<PatchSite> Sites { get; }
    /// <summary>Axis title of the rows ("layer", "layer/position", ...).</summary>
    public string RowTitle { get; }
    /// <summary>Axis title of the columns ("position", "head", "neuron", ...).</summary>
    public string ColTitle { get; }

    /// <summary>Equal when name, labels, titles and every site are equal (the lists compared element by element).</summary>
    public bool Equals(PatchSweep? other) => other is not null && Name == other.Name && RowTitle == other.RowTitle
        && ColTitle == other.ColTitle && Rows.SequenceEqual(other.Rows) && Cols.SequenceEqual(other.Cols) && Sites.SequenceEqual(other.Sites);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Rows.Count, Cols.Count, Sites.Count > 0 ? Sites[0] : null);

    /// <summary>One row per site, labelled by the site's canonical name, one column "effect".</summary>
    public static PatchSweep Of(string name, IReadOnlyList<PatchSite> sites) =>
        new(name, sites.Select(s => s.Name).ToArray(), ["effect"], sites, "site", "effect");

    /// <summary>As <see cref="Of(string, IReadOnlyList{PatchSite})"/> with row labels of the caller's choosing
    /// (e.g. "L8N2744", "L7H11").</summary>
    public static PatchSweep Of(string name, IReadOnlyList<string> rowLabels, IReadOnlyList<PatchSite> sites) =>
        new(name, rowLabels, ["effect"], sites, "site", "effect");
}
