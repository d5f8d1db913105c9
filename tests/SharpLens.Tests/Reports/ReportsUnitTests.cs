using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpLens.Reports;

namespace SharpLens.Tests.Reports;

public class ReportsUnitTests
{
    static readonly Regex RemoteScript = new(@"<script[^>]*\bsrc\s*=\s*[""']?\s*(https?:)?//", RegexOptions.IgnoreCase);
    static readonly Regex RemoteLink = new(@"<link[^>]*\bhref\s*=\s*[""']?\s*(https?:)?//", RegexOptions.IgnoreCase);

    [Fact]
    public void FaithfulnessPrintsNoMinusZeroAndNamesEmptyAndUndecidedResults()
    {
        var ci = new SharpLens.Analysis.Statistics.ConfidenceInterval(-0f, -0.0001f, 0f, 0.95);
        Assert.Equal("0 [0, 0]", CircuitReport.Format(new SharpLens.Circuits.FaithfulnessResult(4, -0f, ci, [])));
        var s = new SharpLens.Circuits.FaithfulnessResult(3, -0.25f, new SharpLens.Analysis.Statistics.ConfidenceInterval(-0.25f, -1.5f, 0.125f, 0.95), []);
        Assert.Equal("-0.25 [-1.5, 0.125]", CircuitReport.Format(s));
        Assert.Equal("empty (no edges)", CircuitReport.Format(s with { Edges = 0, Status = SharpLens.Circuits.FaithfulnessStatus.Empty }));
        Assert.StartsWith("undecided", CircuitReport.Format(s with { Status = SharpLens.Circuits.FaithfulnessStatus.Undecided }));
    }

    [Fact]
    public void Heatmap_color_range_is_symmetric_around_zero()
    {
        var h = new HeatmapFigure(new double[,] { { -0.5, 2.0 }, { 1.0, double.NaN } }, new[] { "0", "1" }, new[] { "a", "b" });
        Assert.Equal((-2.0, 2.0), h.ColorRange);
        var spec = PlotlySpec.Build(h)!.Value;
        var t = spec.Data[0]!;
        Assert.Equal(-t["zmin"]!.GetValue<double>(), t["zmax"]!.GetValue<double>());
        Assert.Equal("#f7f7f7", t["colorscale"]![5]![1]!.GetValue<string>()); // white exactly in the middle
        Assert.Equal(0.5, t["colorscale"]![5]![0]!.GetValue<double>());
        Assert.Null(t["z"]![1]![1]); // NaN -> null (blank cell)
        var (r, g, b) = ColorScales.Map(ColorScales.RdBu, 0, -2, 2);
        Assert.Equal((0xf7, 0xf7, 0xf7), ((int)r, (int)g, (int)b));
        var neg = ColorScales.Map(ColorScales.RdBu, -2, -2, 2); var pos = ColorScales.Map(ColorScales.RdBu, 2, -2, 2);
        Assert.True(neg.R > neg.B && pos.B > pos.R); // negative red, positive blue
    }

    [Fact]
    public void Small_multiples_share_zmin_zmax()
    {
        var sm = Samples.SmallMultiples();
        var (lo, hi) = sm.SharedColorRange;
        Assert.Equal(-hi, lo);
        Assert.Equal(sm.Panels.Max(p => ColorScales.MaxAbs(p.Values)), hi, 9);
        var (data, layout) = PlotlySpec.Build(sm)!.Value;
        Assert.Equal(3, data.Count);
        Assert.All(data, t => Assert.Equal("coloraxis", t!["coloraxis"]!.GetValue<string>()));
        Assert.Equal(lo, layout["coloraxis"]!["cmin"]!.GetValue<double>());
        Assert.Equal(hi, layout["coloraxis"]!["cmax"]!.GetValue<double>());
        var json = FigureData.ToJson(sm);
        Assert.Equal(hi, json["zmax"]!.GetValue<double>());
    }

    [Fact]
    public void Figure_writer_writes_all_formats_offline()
    {
        var dir = Samples.TempDir("writer");
        foreach (var (f, i) in Samples.All().Select((f, i) => (f, i)))
        {
            var files = FigureWriter.Write(f, dir, $"f{i}-{f.Kind}");
            foreach (var p in new[] { files.Html, files.Png, files.Svg, files.Csv, files.Json })
                Assert.True(File.Exists(p) && new FileInfo(p!).Length > 0, $"{f.Kind}: {p}");
            var html = File.ReadAllText(files.Html!);
            Assert.DoesNotMatch(RemoteScript, html);
            Assert.DoesNotMatch(RemoteLink, html);
            Assert.Contains("Plotly", html); // bundled inline
            Assert.Contains($"id=\"fig-f{i}-", html);
            var png = File.ReadAllBytes(files.Png!);
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png[..4]);
            Assert.Contains("<svg", File.ReadAllText(files.Svg!));
            var json = JsonNode.Parse(File.ReadAllText(files.Json!))!;
            Assert.Equal(f.Kind, json["kind"]!.GetValue<string>());
            Assert.True(File.ReadAllLines(files.Csv!).Length > 1);
        }
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Csv_of_heatmap_is_a_labelled_matrix_and_quotes_tokens()
    {
        var csv = FigureData.ToCsv(Samples.Heatmap()).Split('\n');
        Assert.StartsWith("row,<|endoftext|>_0,When_1,\" Mary_2\"", csv[0]);
        Assert.StartsWith("0,", csv[1]);
        Assert.Equal(13, csv.Count(l => l.Length > 0));
    }

    [Fact]
    public void Html_ids_are_deterministic()
    {
        var a = HtmlRenderer.Fragment(Samples.Heatmap(), "fig-x");
        var b = HtmlRenderer.Fragment(Samples.Heatmap(), "fig-x");
        Assert.Equal(a, b);
        Assert.Equal("fig-01-residual-stream", FigureWriter.FigureId("01 Residual  stream!"));
    }

    [Fact]
    public void Report_and_run_index_are_written()
    {
        var root = Samples.TempDir("runs");
        var r = Samples.FullReport();
        r.StaticImages = false;
        var index = r.Write(Path.Combine(root, "run-b"));
        new Report("Second run") { StaticImages = false }.AddFigure(Samples.Bar()).Write(Path.Combine(root, "run-a"));
        var html = File.ReadAllText(index);
        Assert.DoesNotMatch(RemoteScript, html);
        Assert.Contains("src=\"assets/plotly.min.js\"", html);
        Assert.True(File.Exists(Path.Combine(root, "run-b", "assets", "plotly.min.js")));
        Assert.Contains("gpt2-small", html);
        Assert.Contains("When Mary and John went to the store", html);
        Assert.Contains("Figure 9.", html);
        Assert.True(html.IndexOf("Residual stream patching") < html.IndexOf("Logit lens"));
        Assert.True(File.Exists(Path.Combine(root, "run-b", "figures", "01-residual-stream-patching.csv")));
        var runIndex = File.ReadAllText(RunIndex.Write(root));
        Assert.Contains("run-a/index.html", runIndex);
        Assert.Contains("IOI circuit (synthetic)", runIndex);
        Assert.True(runIndex.IndexOf("run-a/") < runIndex.IndexOf("run-b/"));
    }

    [Fact]
    public void Grid_plotter_renders_grids_groups_and_scalars()
    {
        var dir = Samples.TempDir("plot");
        var result = new JsonObject
        {
            ["model"] = "gpt2-small",
            ["prompts"] = new JsonArray("a b c", "d e f"),
            ["clean_logit_diff"] = 3.5,
            ["resid_pre"] = Samples.Grid(12, 6).ToJson(),
            ["by_template"] = new JsonObject { ["ABBA"] = Samples.Grid(4, 6, seed: 1).ToJson(), ["BABA"] = Samples.Grid(4, 6, seed: 2).ToJson(), ["n"] = 7 },
            ["heads_row"] = Samples.Grid(1, 6).ToJson(),
            ["neurons_L8"] = Samples.Grid(1, 300).ToJson(),
        };
        var path = Path.Combine(dir, "result.json");
        File.WriteAllText(path, result.ToJsonString());
        var index = GridPlotter.FromResultJson(path, Path.Combine(dir, "out"), staticImages: false);
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "out", "report.json")))!;
        var kinds = meta["figures"]!.AsArray().Select(f => f!["kind"]!.GetValue<string>()).ToList();
        // One-row and very wide results are lines (as the study's notebook draws them); CI bars only where readable.
        Assert.Equal(new[] { "table", "heatmap", "small_multiples", "line", "bar", "line" }, kinds);
        var html = File.ReadAllText(index);
        Assert.Contains("clean_logit_diff", html);
        Assert.Contains("by_template.n", html);
        Assert.Contains("gpt2-small", html);
    }
}
