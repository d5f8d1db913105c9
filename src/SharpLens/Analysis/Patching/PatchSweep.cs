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

    /// <summary>
    /// Which head or neuron each cell patches, when the sweep is laid out as every named head and neuron sweep is:
    /// every site a head (q, k, v, z or pattern) or every site a neuron, its layer set by the row and its head or
    /// neuron index by the column. Null for any other sweep (residual-width sites, mixed or free-form lists).
    /// </summary>
    public SweepComponents? Components()
    {
        if (Sites.Count == 0) return null;
        bool heads = Sites.All(s => s.HeadIndex is not null), neurons = Sites.All(s => s.NeuronIndex is not null);
        if (!heads && !neurons) return null;
        int cols = Cols.Count;
        var rowLayers = Enumerable.Range(0, Rows.Count).Select(r => Sites[r * cols].Layer).ToArray();
        var colIndices = Enumerable.Range(0, cols).Select(c => (Sites[c].HeadIndex ?? Sites[c].NeuronIndex)!.Value).ToArray();
        for (int i = 0; i < Sites.Count; i++)
            if (Sites[i].Layer != rowLayers[i / cols] || (Sites[i].HeadIndex ?? Sites[i].NeuronIndex) != colIndices[i % cols]) return null;
        return new SweepComponents(heads ? SweepComponents.Head : SweepComponents.Neuron, rowLayers, colIndices);
    }
}

/// <summary>What the cells of a head or neuron sweep patch (<see cref="PatchSweep.Components"/>): cell (r, c) is
/// <see cref="HeadId"/>(RowLayers[r], ColIndices[c]) or <see cref="NeuronId"/>(RowLayers[r], ColIndices[c]).</summary>
/// <param name="Kind"><see cref="Head"/> or <see cref="Neuron"/></param>
/// <param name="RowLayers">[rows] the layer of each row</param>
/// <param name="ColIndices">[cols] the head or neuron index of each column</param>
public sealed record SweepComponents(string Kind, IReadOnlyList<int> RowLayers, IReadOnlyList<int> ColIndices)
{
    /// <summary>The kind of a sweep of heads.</summary>
    public const string Head = "head";
    /// <summary>The kind of a sweep of MLP neurons.</summary>
    public const string Neuron = "neuron";

    /// <summary>The canonical name of cell (<paramref name="row"/>, <paramref name="col"/>)'s component: <c>L7H11</c> or <c>L8N2744</c>.</summary>
    public string NameAt(int row, int col) => Kind == Head
        ? new HeadId(RowLayers[row], ColIndices[col]).ToString() : new NeuronId(RowLayers[row], ColIndices[col]).ToString();
}
