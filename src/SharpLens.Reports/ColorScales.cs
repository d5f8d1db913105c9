using System.Globalization;

namespace SharpLens.Reports;

/// <summary>Colour scales shared by the HTML (Plotly, JS) and static (ScottPlot) renderers so both look the same.</summary>
public static class ColorScales
{
    /// <summary>ColorBrewer RdBu (11 classes), from the most negative (dark red) through white (0) to the most positive (dark blue).</summary>
    public static readonly IReadOnlyList<string> RdBu = new[]
    {
        "#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061",
    };

    /// <summary>White to dark blue, for attention probabilities in [0, 1].</summary>
    public static readonly IReadOnlyList<string> Blues = new[] { "#ffffff", "#deebf7", "#9ecae1", "#4292c6", "#08519c", "#08306b" };

    /// <summary>Viridis (8 stops), for colouring by layer.</summary>
    public static readonly IReadOnlyList<string> Viridis = new[] { "#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725" };

    /// <summary>Largest finite |v| (1 when there is none or it is 0, so a range is never empty).</summary>
    public static double MaxAbs(double[,] values)
    {
        double m = 0;
        foreach (var v in values) if (double.IsFinite(v)) m = Math.Max(m, Math.Abs(v));
        return m > 0 ? m : 1;
    }

    /// <summary>The symmetric range [-max|v|, max|v|] used for diverging scales.</summary>
    public static (double Min, double Max) Symmetric(double[,] values) { var m = MaxAbs(values); return (-m, m); }

    /// <summary>Plotly colorscale: [[0, "#.."], ..., [1, "#.."]].</summary>
    internal static object[][] ToPlotly(IReadOnlyList<string> stops) =>
        stops.Select((c, i) => new object[] { Math.Round(i / (double)(stops.Count - 1), 4), c }).ToArray();

    /// <summary>Colour at t in [0, 1] along the stops (linear interpolation in RGB).</summary>
    public static (byte R, byte G, byte B) At(IReadOnlyList<string> stops, double t)
    {
        if (!double.IsFinite(t)) t = 0.5;
        t = Math.Clamp(t, 0, 1) * (stops.Count - 1);
        int i = Math.Min((int)Math.Floor(t), stops.Count - 2);
        double f = t - i;
        var a = Parse(stops[i]); var b = Parse(stops[i + 1]);
        return ((byte)Math.Round(a.R + (b.R - a.R) * f), (byte)Math.Round(a.G + (b.G - a.G) * f), (byte)Math.Round(a.B + (b.B - a.B) * f));
    }

    /// <summary>Colour of <paramref name="v"/> on a scale spanning [min, max].</summary>
    public static (byte R, byte G, byte B) Map(IReadOnlyList<string> stops, double v, double min, double max) =>
        At(stops, max > min ? (v - min) / (max - min) : 0.5);

    internal static (byte R, byte G, byte B) Parse(string hex) =>
        (byte.Parse(hex.AsSpan(1, 2), NumberStyles.HexNumber), byte.Parse(hex.AsSpan(3, 2), NumberStyles.HexNumber), byte.Parse(hex.AsSpan(5, 2), NumberStyles.HexNumber));
}

/// <summary>Formatting helpers (invariant culture).</summary>
internal static class Fmt
{
    public static string Num(double v, int digits = 4) =>
        double.IsNaN(v) ? "NaN" : Math.Round(v, digits).ToString("0.####################", CultureInfo.InvariantCulture);

    public static string G(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Shows a token's leading/trailing spaces and newlines visibly.</summary>
    public static string Token(string t) => t.Replace("\n", "\\n").Replace("\t", "\\t");

    /// <summary>A file/id-safe slug: lower-case letters, digits and dashes.</summary>
    public static string Slug(string s)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var ch in s.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(ch)) sb.Append(ch);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
        }
        var r = sb.ToString().Trim('-');
        if (r.Length > 48) r = r[..48].Trim('-');
        return r.Length == 0 ? "figure" : r;
    }

    public static string Html(string s) => System.Net.WebUtility.HtmlEncode(s);
}

/// <summary>Writes files atomically: to a temporary file in the same folder, then renamed over the target.</summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> as UTF-8 (no BOM) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

    /// <summary>Lets <paramref name="write"/> fill a temporary file next to <paramref name="path"/>, then renames it over
    /// the target; on failure the temporary file is deleted and the target is untouched.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write)) { write(fs); fs.Flush(true); }
            File.Move(tmp, full, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }
}
