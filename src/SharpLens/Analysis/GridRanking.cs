namespace SharpLens.Analysis;

/// <summary>One cell of a <see cref="Grid"/>: its row and column indices, flat index row · cols + col, and mean value.</summary>
public readonly record struct GridCell(int Row, int Col, int Index, float Value);

/// <summary>Picking cells out of a grid by value (the "top heads", "top neurons" of an analysis). Ties keep grid order.</summary>
public static class GridRanking
{
    /// <summary>The <paramref name="k"/> cells of largest |value| (mean over prompts), largest first.</summary>
    public static IReadOnlyList<GridCell> TopByMagnitude(this Grid grid, int k) =>
        Cells(grid).OrderByDescending(c => MathF.Abs(c.Value)).ThenBy(c => c.Index).Take(Math.Max(0, k)).ToList();

    /// <summary>The <paramref name="k"/> cells of largest value, largest first.</summary>
    public static IReadOnlyList<GridCell> Largest(this Grid grid, int k) =>
        Cells(grid).OrderByDescending(c => c.Value).ThenBy(c => c.Index).Take(Math.Max(0, k)).ToList();

    /// <summary>The <paramref name="k"/> cells of smallest (most negative) value, smallest first.</summary>
    public static IReadOnlyList<GridCell> Smallest(this Grid grid, int k) =>
        Cells(grid).OrderBy(c => c.Value).ThenByDescending(c => c.Index).Take(Math.Max(0, k)).ToList();

    private static IEnumerable<GridCell> Cells(Grid grid)
    {
        int cols = grid.Cols.Count;
        var values = grid.Values.Data;
        for (int i = 0; i < values.Length; i++) yield return new GridCell(i / cols, i % cols, i, values[i]);
    }
}
