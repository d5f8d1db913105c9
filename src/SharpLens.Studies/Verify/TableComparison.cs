namespace SharpLens.Studies.Verify;

/// <summary>
/// Compares one of our tables with the reference's: structure first (shape, then every row and column label), then
/// the values, each figure on its own scale (<see cref="VerifyTolerance"/>), reporting the worst cell by name.
/// </summary>
internal static class TableComparison
{
    /// <summary>
    /// A verify line for <paramref name="ours"/> (null: missing) against <paramref name="expected"/>. Labels compare as
    /// exact strings; a non-finite value of ours always fails; the worst cell is the one with the largest |Δ|.
    /// </summary>
    public static VerifyCheck Compare(string group, string title, string source, LabelledTable? ours, LabelledTable expected, VerifyTolerance tolerance)
    {
        if (ours is null) return VerifyCheck.Missing(group, title, source, $"{source} is not in the results");
        if (Structure(ours, expected) is string problem) return new(group, title, source, "structure", problem, Tolerance: tolerance);
        double scale = 0;
        foreach (double r in expected.Values) if (double.IsFinite(r)) scale = Math.Max(scale, Math.Abs(r));
        double allowed = tolerance.Allowed(scale), worst = -1;
        int at = 0;
        for (int i = 0; i < ours.Values.Length; i++)
        {
            double d = Math.Abs(ours.Values[i] - expected.Values[i]);
            if (!double.IsFinite(ours.Values[i])) { worst = double.NaN; at = i; break; }
            if (d > worst) { worst = d; at = i; }
        }
        if (ours.Values.Length == 0) return new(group, title, source, "ok", $"the same {expected.Cols.Count} labels in the same order", Deviation: 0, Allowed: allowed, Tolerance: tolerance);
        string cell = expected.Cell(at);
        string values = $"{Findings.F6(ours.Values[at])} here, {Findings.F6(expected.Values[at])} in the reference";
        if (double.IsNaN(worst))
            return new(group, title, source, "exceeds", $"{cell} is {ours.Values[at]} (not a number) here, {Findings.F6(expected.Values[at])} in the reference", cell, double.NaN, allowed, tolerance);
        bool ok = worst <= allowed;
        return new(group, title, source, ok ? "ok" : "exceeds",
            $"worst {cell}: {values} (|Δ| {Findings.F6(worst)} {(ok ? "<=" : ">")} {Findings.F6(allowed)} allowed, {tolerance})", cell, worst, allowed, tolerance);
    }

    /// <summary>Why the two tables cannot be compared cell by cell, or null when shape and labels agree.</summary>
    public static string? Structure(LabelledTable ours, LabelledTable expected)
    {
        if (ours.Rows.Count != expected.Rows.Count || ours.Cols.Count != expected.Cols.Count)
            return $"shape [{ours.Rows.Count} x {ours.Cols.Count}] here, [{expected.Rows.Count} x {expected.Cols.Count}] in the reference ({Axes(expected)})";
        for (int r = 0; r < ours.Rows.Count; r++)
            if (ours.Rows[r] != expected.Rows[r])
                return $"{expected.RowAxis} label {r} is {Quote(ours.Rows[r])} here, {Quote(expected.Rows[r])} in the reference";
        for (int c = 0; c < ours.Cols.Count; c++)
            if (ours.Cols[c] != expected.Cols[c])
                return $"{expected.ColAxis} label {c} is {Quote(ours.Cols[c])} here, {Quote(expected.Cols[c])} in the reference";
        if (ours.Values.Length != expected.Values.Length)
            return $"{ours.Values.Length} values here, {expected.Values.Length} in the reference";
        return null;
    }

    private static string Axes(LabelledTable t) => t.RowAxis.Length == 0 ? $"{t.ColAxis}s" : $"{t.RowAxis}s x {t.ColAxis}s";

    private static readonly System.Text.Json.JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A string in double quotes with JSON escapes, but "&lt;" and "'" kept as they are (token text stays readable).</summary>
    internal static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s, Readable);
}
