using SharpLens.Analysis;
using SharpLens.Reports;
using SharpLens.Tensors;

namespace SharpLens.Tests.Reports;

/// <summary>Deterministic synthetic data with one figure of every kind.</summary>
internal static class Samples
{
    public static readonly string[] Tokens = { "<|endoftext|>", "When", " Mary", " and", " John", " went", " to", " the", " store", ",", " John", " gave" };
    public static string[] PositionLabels => Tokens.Select((t, i) => $"{t}_{i}").ToArray();
    public static string[] Layers => Enumerable.Range(0, 12).Select(i => i.ToString()).ToArray();

    public static double[,] Matrix(int rows, int cols, double scale = 1, int seed = 0)
    {
        var m = new double[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) m[r, c] = scale * Math.Sin(0.7 * r + 1.3 * c + seed) * Math.Exp(-0.05 * r);
        return m;
    }

    public static double[,] Attention(int n, int seed)
    {
        var p = new double[n, n];
        for (int d = 0; d < n; d++)
        {
            double sum = 0;
            for (int s = 0; s <= d; s++) { p[d, s] = Math.Exp(2 * Math.Cos(seed + d - 1.7 * s)); sum += p[d, s]; }
            for (int s = 0; s <= d; s++) p[d, s] /= sum;
        }
        return p;
    }

    public static Grid Grid(int rows, int cols, int prompts = 3, int seed = 0)
    {
        var data = new float[prompts * rows * cols];
        for (int p = 0; p < prompts; p++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) data[(p * rows + r) * cols + c] = (float)(Math.Sin(0.7 * r + 1.3 * c + seed) + 0.1 * (p - 1));
        return SharpLens.Analysis.Grid.FromPerPrompt(new Tensor(data, prompts, rows, cols),
            Enumerable.Range(0, rows).Select(i => i.ToString()).ToArray(),
            cols <= PositionLabels.Length ? PositionLabels.Take(cols).ToArray() : Enumerable.Range(0, cols).Select(i => i.ToString()).ToArray());
    }

    public static HeatmapFigure Heatmap() => new(Matrix(12, Tokens.Length, 2.5), Layers, PositionLabels)
    { Title = "Residual stream patching", XTitle = "position", YTitle = "layer", ColorbarTitle = "logit diff" };

    public static HeatmapFigure HeadsHeatmap() => new(Matrix(12, 12, 1.2, 3), Layers, Layers)
    { Title = "Attention head outputs", XTitle = "head", YTitle = "layer" };

    public static LineFigure Line()
    {
        var comps = Enumerable.Range(0, 12).SelectMany(l => new[] { $"{l}_attn_out", $"{l}_mlp_out" }).ToArray();
        return new LineFigure(comps,
            new LineSeries("logit diff", comps.Select((_, i) => Math.Tanh(i / 6.0 - 1.5) * 3).ToArray(), comps),
            new LineSeries("corrupted", comps.Select((_, i) => Math.Cos(i / 4.0)).ToArray(), comps))
        { Title = "Logit lens: accumulated residual", XTitle = "component", YTitle = "logit diff" };
    }

    public static ScatterFigure Scatter() => new(Enumerable.Range(0, 48).Select(i =>
        new ScatterPoint(Math.Sin(i * 1.1) * 2, Math.Cos(i * 0.7) * 2 + i * 0.02, $"L{i / 4}H{i % 12}", i / 4)))
    { Title = "Head DLA: clean vs corrupted", XTitle = "clean", YTitle = "corrupted", Diagonal = true };

    public static BarFigure Bar()
    {
        var b = BarFigure.FromSamples(new[] { "9.6", "9.9", "10.0", "10.7", "11.10" },
        new IReadOnlyList<double>[] { new[] { 1.0, 1.5, 0.8, 1.2 }, new[] { 2.0, 2.5, 1.5, 2.2 }, new[] { -0.5, -0.2, -0.9, -0.4 }, new[] { -1.1, -1.5, -0.9, -1.3 }, new[] { 0.3, 0.1, 0.2, 0.5 } });
        b.Title = "Name mover heads (95% CI)"; b.XTitle = "head"; b.YTitle = "direct logit attribution";
        return b;
    }

    public static SmallMultiplesFigure SmallMultiples() => new(new[]
    {
        new HeatmapFigure(Matrix(6, 8, 1.0, 0), Layers.Take(6).ToArray(), PositionLabels.Take(8).ToArray()) { Title = "ABBA" },
        new HeatmapFigure(Matrix(6, 8, 3.0, 1), Layers.Take(6).ToArray(), PositionLabels.Take(8).ToArray()) { Title = "BABA" },
        new HeatmapFigure(Matrix(6, 8, 0.5, 2), Layers.Take(6).ToArray(), PositionLabels.Take(8).ToArray()) { Title = "mixed" },
    }) { Title = "Patching by template", XTitle = "position", YTitle = "layer", Columns = 3 };

    public static AttentionFigure Attention() => new(Tokens, new[]
    {
        new AttentionHead("L9H6", Attention(Tokens.Length, 0)),
        new AttentionHead("L9H9", Attention(Tokens.Length, 1)),
        new AttentionHead("L10H0", Attention(Tokens.Length, 2)),
        new AttentionHead("L5H5", Attention(Tokens.Length, 3)),
    }) { Title = "Name mover attention" };

    public static NeuronTextFigure NeuronText()
    {
        var f = new NeuronTextFigure(new[] { "L0N10", "L5N300" }) { Title = "Neuron activations" };
        string[][] prompts = { Tokens, new[] { "The", " cat", " sat", " on", " the", " mat", ".", "\n", "It", " was", " happy" } };
        foreach (var (toks, k) in prompts.Select((t, k) => (t, k)))
        {
            var acts = new double[2, toks.Length];
            for (int i = 0; i < toks.Length; i++) { acts[0, i] = Math.Sin(i + k) * 1.5; acts[1, i] = i * 0.2 - 0.5; }
            f.Add(new NeuronTextPrompt(toks, acts));
        }
        return f;
    }

    public static TopKTable TopK() => new(new[]
    {
        new TopKRow("When Mary and John went to the store, John gave a drink to", new[]
        { new TopKEntry(" Mary", 18.2, 0.61), new TopKEntry(" them", 16.9, 0.17), new TopKEntry(" John", 15.8, 0.05) }, " Mary", 1),
        new TopKRow("When Tom and James went to the park, James gave the ball to", new[]
        { new TopKEntry(" the", 15.1, 0.33), new TopKEntry(" Tom", 14.8, 0.25), new TopKEntry(" his", 13.0, 0.04) }, " Tom", 2),
    }) { Title = "Top-3 predictions" };

    public static IEnumerable<Figure> All()
    {
        yield return Heatmap(); yield return HeadsHeatmap(); yield return Line(); yield return Scatter(); yield return Bar();
        yield return SmallMultiples(); yield return Attention(); yield return NeuronText(); yield return TopK();
    }

    public static Report FullReport()
    {
        var r = new Report("IOI circuit (synthetic)") { Model = "gpt2-small", Created = new DateTimeOffset(2025, 1, 2, 3, 4, 0, TimeSpan.Zero) };
        r.Set("prompts", 2).Set("seed", 42).Set("metric", "logit_diff");
        r.AddPrompts(new[] { "When Mary and John went to the store, John gave a drink to", "When Tom and James went to the park, James gave the ball to" });
        r.AddSection("Patching", "Activation patching from corrupted to clean.\n\nValues are normalised logit differences.");
        r.AddFigure(Heatmap(), "Patching the residual stream at each layer and position.");
        r.AddFigure(HeadsHeatmap(), "Each head's output patched.");
        r.AddFigure(SmallMultiples(), "The same patching per template, on one shared colour scale.");
        r.AddSection("Attribution");
        r.AddFigure(Line(), "Accumulated logit difference by component.");
        r.AddFigure(Scatter(), "Per-head DLA, clean against corrupted, coloured by layer.");
        r.AddFigure(Bar(), "Means with 95% confidence intervals.");
        r.AddSection("Heads and neurons");
        r.AddFigure(Attention(), "Attention patterns of name mover heads on prompt 0.");
        r.AddFigure(NeuronText(), "Two neurons on two prompts.");
        r.AddFigure(TopK(), "Top predictions and the rank of the answer.");
        r.AddTable("Scalars", new[] { "name", "value" }, new[] { new[] { "clean_logit_diff", "3.55" }, new[] { "corrupted_logit_diff", "-3.2" } });
        return r;
    }

    public static string TempDir(string name)
    {
        var d = Path.Combine(Path.GetTempPath(), "sharplens-reports-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }
}
