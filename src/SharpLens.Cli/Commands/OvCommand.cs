using System.CommandLine;
using SharpLens.Analysis.Weights;
using SharpLens.Model;
using SharpLens.Reports;
using Spectre.Console;

namespace SharpLens.Cli.Commands;

/// <summary><c>sharplens ov</c>: the weights-based view of one head (OV/QK spectra, copying score, what it writes for
/// given tokens, composition partners, bigram path); a thin layer over <see cref="HeadWeightSummary"/>.</summary>
internal static class OvCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var raw = Cli.RawWeightsOption();
        var head = new Option<string>("--head") { Description = "The head, e.g. L7H11 (also 7.11, a7.h11)", Required = true };
        var tokens = new Option<string?>("--tokens") { Description = "Attended tokens, comma-separated and spaces kept, e.g. \"'re,'s, are\"" };
        var tokenIds = new Option<string?>("--token-ids") { Description = "Attended token ids, comma-separated (for models without GPT-2's vocabulary)" };
        var pronouns = new Option<string?>("--pronouns") { Description = "Bigram sources, comma-separated, e.g. \" they, we\" (needs --answers)" };
        var answers = new Option<string?>("--answers") { Description = "Two answers compared by the bigram path, e.g. \"'re, are\"" };
        var topK = new Option<int>("--top-k", "-k") { Description = "Tokens listed per readout", DefaultValueFactory = _ => 10 };
        var json = OutputPaths.File(new Option<string?>("--json") { Description = "Write the full result as JSON to this file" });
        var plot = OutputPaths.Folder(new Option<string?>("--plot") { Description = "Write figures (HTML, SVG, JSON) to this folder" });
        var command = new Command("ov", "Weights-based view of one attention head: OV/QK circuits, copying, composition, bigram path")
            { model, raw, head, tokens, tokenIds, pronouns, answers, topK, json, plot };
        command.SetAction(parse =>
        {
            // Everything that can be checked without weights is checked before loading them.
            var heads = HeadId.ParseList(parse.GetValue(head)!);
            if (heads.Count != 1) throw new InvalidInputException($"--head takes one head, got {heads.Count}: e.g. --head L7H11");
            int k = parse.GetValue(topK);
            if (k <= 0) throw new InvalidInputException($"--top-k must be positive, got {k}");
            if (parse.GetValue(tokens) is not null && parse.GetValue(tokenIds) is not null)
                throw new InvalidInputException("give --tokens or --token-ids, not both");
            if ((parse.GetValue(pronouns) is null) != (parse.GetValue(answers) is null))
                throw new InvalidInputException("--pronouns and --answers go together: e.g. --pronouns \" they\" --answers \"'re, are\"");
            if (parse.GetValue(answers) is string a && SplitTokens(a).Length != 2)
                throw new InvalidInputException($"--answers takes exactly two tokens, got {SplitTokens(a).Length}");
            int[] sources = [], bigramSources = [], answerIds = [];
            // Token texts are single tokens of the folder's tokenizer: checked before the weights load.
            var lm = Cli.LoadModel(parse.GetValue(model)!, parse.GetValue(raw), tok =>
            {
                int[] Texts(string? text, string option) =>
                    text is null ? [] : SplitTokens(text).Select(tok.Require(option, "--token-ids").ToSingleToken).ToArray();
                sources = parse.GetValue(tokenIds) is string ids ? Cli.ParseIds(ids) : Texts(parse.GetValue(tokens), "--tokens");
                bigramSources = Texts(parse.GetValue(pronouns), "--pronouns");
                answerIds = Texts(parse.GetValue(answers), "--answers");
            });
            var (layer, index) = heads[0].RequireIn(lm.Config);
            var summary = HeadWeightSummary.Compute(lm, layer, index, sources, bigramSources,
                answerIds.Length == 2 ? (answerIds[0], answerIds[1]) : null, k);
            Print(summary);
            if (parse.GetValue(json) is string path)
            {
                Cli.WriteAtomic(path, summary.ToJson().ToJsonString(Cli.Json));
                Cli.Err.MarkupLine($"wrote {Markup.Escape(path)}");
            }
            if (parse.GetValue(plot) is string dir) Cli.Err.MarkupLine($"figures: {Markup.Escape(WriteFigures(summary, lm.Config, dir))}");
            return 0;
        });
        return command;
    }

    /// <summary>Splits "'re,'s, are" on commas keeping each token's spaces (" are" starts with one).</summary>
    internal static string[] SplitTokens(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries);

    private static string Show(string? token, int id) => Markup.Escape(token is null ? $"<{id}>" : $"|{token}|");

    private static void Print(HeadWeightSummary s)
    {
        var console = AnsiConsole.Console;
        console.MarkupLine($"[bold]Head {s.Id}[/] of {Markup.Escape(s.Model)}: ‖OV‖ = {s.OvNorm:F3}, ‖QK‖ = {s.QkNorm:F3}");
        console.MarkupLine($"OV singular values: {string.Join(", ", s.OvSingularValues.Take(5).Select(v => v.ToString("F3")))}{(s.OvSingularValues.Length > 5 ? ", ..." : "")}");
        console.MarkupLine($"Copying score (Re Σλ / Σ|λ| of the full OV circuit): [bold]{s.Copying.Score:F3}[/]; positive eigenvalues {s.Copying.PositiveFraction * 100:F0}%");
        foreach (var r in s.Readouts)
        {
            var table = new Table().Title($"attending to {Show(r.Source, r.SourceId)}: top tokens written").AddColumns("boosted", "logit", "suppressed", "logit");
            for (int i = 0; i < r.Top.Count; i++)
                table.AddRow(Show(r.Top[i].Token, r.Top[i].TokenId), r.Top[i].Value.ToString("F3"), Show(r.Bottom[i].Token, r.Bottom[i].TokenId), r.Bottom[i].Value.ToString("F3"));
            console.Write(table);
        }
        var comp = new Table().Title("composition scores (top 5)").AddColumns("kind", "earlier heads into this one", "later heads reading this one");
        foreach (var c in s.Composition)
            comp.AddRow(c.Kind.ToString(), Partners(c.Senders), Partners(c.Receivers));
        console.Write(comp);
        if (s.Bigrams.Count > 0)
        {
            var bigram = new Table().Title("direct bigram path: logit(first answer) − logit(second answer)").AddColumns("source", "via", "first", "second", "diff");
            foreach (var b in s.Bigrams)
                bigram.AddRow(Show(b.Source, b.SourceId), b.Via.ToString(), b.CorrectLogit.ToString("F3"), b.WrongLogit.ToString("F3"), b.LogitDiff.ToString("F3"));
            console.Write(bigram);
        }
    }

    private static string Partners(IReadOnlyList<(int Layer, int Head, double Score)> list) =>
        list.Count == 0 ? "-" : string.Join(", ", list.Take(5).Select(p => $"{new HeadId(p.Layer, p.Head)} ({p.Score:F3})"));

    // One heatmap per composition kind (layer × head; earlier heads show their score into this head, later heads the
    // score of this head into them) and one bar chart per readout.
    private static string WriteFigures(HeadWeightSummary s, ModelConfig cfg, string dir)
    {
        var panels = new SmallMultiplesFigure { Title = $"Composition scores around head {s.Id}", ColorbarTitle = "score", ZMin = 0 };
        foreach (var c in s.Composition)
        {
            var grid = new double[cfg.NLayers, cfg.NHeads];
            foreach (var (l, h, score) in c.Senders.Concat(c.Receivers)) grid[l, h] = score;
            panels.Panels.Add(new HeatmapFigure(grid, Enumerable.Range(0, cfg.NLayers).Select(l => $"L{l}").ToArray(),
                Enumerable.Range(0, cfg.NHeads).Select(h => $"H{h}").ToArray()) { Title = $"{c.Kind}-composition", XTitle = "head", YTitle = "layer" });
        }
        const FigureFormats formats = FigureFormats.Html | FigureFormats.Svg | FigureFormats.Json;
        var files = FigureWriter.Write(panels, dir, $"ov-{s.Id}-composition", formats);
        var written = new List<(Figure, FigureFiles)> { (panels, files) };
        foreach (var r in s.Readouts)
        {
            var bar = new BarFigure(r.Top.Select(t => t.Token ?? $"<{t.TokenId}>").ToArray(), r.Top.Select(t => t.Value).ToArray())
            {
                Title = $"Head {s.Id} attending to {r.Source ?? $"<{r.SourceId}>"}: tokens its OV circuit boosts",
                YTitle = "direct logit",
            };
            written.Add((bar, FigureWriter.Write(bar, dir, $"ov-{s.Id}-readout-{r.SourceId}", formats)));
        }
        RunManifest.ForFigures("ov", $"Head {s.Id}: composition and OV readouts", cfg.ModelName, written).Write(dir);
        return files.Html!;
    }
}
