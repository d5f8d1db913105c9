using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Patching;
using SharpLens.Neurons;
using SharpLens.Reports;
using SharpLens.Tensors;
using static SharpLens.Studies.Findings;

namespace SharpLens.Studies;

/// <summary>index.html of a study run: the study's questions, every figure with a caption, and findings computed from the numbers.</summary>
public static class StudyReport
{
    /// <summary>
    /// Writes the report into <paramref name="outDir"/>; returns its index.html. With <paramref name="neuronIndex"/> (built for
    /// the run's model), the page of every neuron the report names is written into <c>outDir/neurons/</c> and linked.
    /// </summary>
    public static string Write(StudyResults results, Study study, string outDir, bool staticImages = false, NeuronIndex? neuronIndex = null)
    {
        var report = Build(results, study);
        report.StaticImages = staticImages;
        if (neuronIndex is not null) StudyNeuronPages.WriteAndLink(report, results, neuronIndex, outDir);
        return report.Write(outDir);
    }

    /// <summary>
    /// The report of a run: the study's summary, then what it found (findings and claims), then every group's figures,
    /// the comparisons, and the settings last.
    /// </summary>
    public static Report Build(StudyResults results, Study study)
    {
        var report = new Report(study.Title ?? study.Name) { Model = results.Model, Kind = "study" };
        if (results.Root["settings"] is JsonObject s) foreach (var (k, v) in s) report.Set(k, v?.ToString());
        report.Set("elapsed_s", results.Root["elapsed_s"]?.ToString());
        report.Set("peak_memory_bytes", results.Root["peak_memory_bytes"]?.ToString());
        string intro = study.Description ?? "";
        if (study.Questions.Count > 0) intro += (intro.Length > 0 ? "\n\n" : "") + "Questions of the study:\n\n" + string.Join("\n\n", study.Questions.Select((q, i) => $"{i + 1}. {q}"));
        report.AddSection("The study", intro.Length > 0 ? intro : null);

        // What the run found comes first: a reader should not scroll past every figure to reach it.
        var summaries = Summaries(results, study);
        if (results.Root[CircuitsSection.Key] is JsonObject cs) summaries.Add(CircuitsSection.Finding(cs));
        report.AddSection("Findings", summaries.Count > 0 ? string.Join("\n\n", summaries) : "Nothing was computed.");
        if (study.Claims.Count > 0)
        {
            var checks = study.Claims.Select(c => ClaimChecks.Check(c, results)).ToList();
            report.AddTable("Claims of the original study, checked against this run", ["claim", "group", "criterion", "status", "this run"],
                checks.Select(c => new[] { c.Claim.Text, c.Claim.Group, c.Criterion, c.Status, c.Observed }),
                $"{checks.Count(c => c.Status == "held")} of {checks.Count} claims held on this run's numbers ({checks.Count(c => c.Status == "not computed")} not computed).");
        }

        foreach (var group in study.Groups)
        {
            string g = group.Name;
            if (results.Groups[g] is not JsonObject node) continue;
            var info = node["info"];
            report.AddSection($"Group {g}" + (group.Experiment is int e ? $" (experiment {e})" : ""), group.Title);
            if (info?["prompts"] is JsonArray prompts)
                report.AddPrompts(prompts.Select((p, i) => $"{p} → {info["answers"]?[i]?[0]} vs {info["answers"]?[i]?[1]}"), $"{g}: prompts (clean; corrupted = {info["corrupted"]})");
            AddGroupFigures(report, results, g);
        }

        if (results.Root["comparisons"] is JsonObject cmp && cmp["figures"] is JsonObject figs) AddComparisons(report, results, study, cmp, figs);

        if (results.Root[CircuitsSection.Key] is JsonObject circuits) CircuitsReport.Add(report, circuits);
        report.AddSettings();
        return report;
    }

    private static void AddGroupFigures(Report report, StudyResults results, string g)
    {
        if (results.Get(g, StudyAnalyses.ModelCheck) is JsonObject mc)
        {
            var rows = new List<TopKRow>();
            foreach (var p in (JsonArray)mc["predictions"]!)
                rows.Add(new TopKRow(p!["prompt"]!.ToString(),
                    ((JsonArray)p["top_k"]!).Select(t => new TopKEntry(t!["token"]!.ToString(), t["logit"]!.GetValue<double>(), t["prob"]!.GetValue<double>())).ToList(),
                    p["answer"]?["token"]?.ToString(), p["answer"]?["rank"]?.GetValue<int>()));
            report.AddFigure(new TopKTable(rows) { Title = $"{g}: top predictions" },
                $"Model check: mean logit difference {F(mc["clean_logit_diff"]!.GetValue<double>())} on the clean prompts and {F(mc["corrupted_logit_diff"]!.GetValue<double>())} on the corrupted ones (per prompt: {string.Join(", ", ((JsonArray)mc["clean_per_prompt"]!).Select(v => F(v!.GetValue<double>())))}).");
        }
        if (results.GridAt(g, StudyAnalyses.LogitLens) is Grid lens)
            report.AddFigure(Line(lens, $"{g}: Logit Difference From Accumulate Residual Stream", "accumulated residual stream"),
                "Logit lens: the logit difference read from the residual stream after each half-layer (final LayerNorm scale of the final position).");
        if (results.GridAt(g, StudyAnalyses.LayerAttribution) is Grid layers)
            report.AddFigure(BarFigure.FromGridRow(layers, 0, $"{g}: Logit Difference From Each Layer"),
                "Direct logit attribution of each attention and MLP layer (mean over prompts, 95% intervals over prompts).");
        if (results.GridAt(g, StudyAnalyses.HeadAttribution) is Grid heads)
        {
            var ranked = RankHeads(heads);
            report.AddFigure(Heatmap(heads, $"{g}: Logit Difference From Each Head", "head", "layer"),
                $"Direct logit attribution per head. Top: {string.Join(", ", ranked.Take(3).Select(x => $"{x.Name} ({F(x.Value)})"))}.");
        }
        if (results.Get(g, StudyAnalyses.AttentionPatterns) is JsonObject ap)
        {
            var tokens = ((JsonArray)ap["tokens"]!).Select(t => t!.ToString()).ToList();
            var fig = new AttentionFigure(tokens) { Title = $"{g}: attention of the top heads on the first prompt" };
            foreach (var h in (JsonArray)ap["heads"]!)
                fig.Add(new AttentionHead($"{h!["name"]} ({h["sign"]}, {F(h["dla"]!.GetValue<double>())})", Matrix((JsonArray)h["pattern"]!)));
            report.AddFigure(fig, "Attention patterns of the three most positive and three most negative heads by direct logit attribution.");
        }
        foreach (var sweep in SweepNames.All)
            if (results.GridAt(g, $"patching/{sweep}") is Grid grid)
                report.AddFigure(Heatmap(grid, $"{g}: Logit Difference From Patched {SweepNames.Title(sweep)}", grid.ColTitle ?? "", grid.RowTitle ?? "layer"),
                    $"Activation patching of {sweep} (clean into corrupted), normalized: 0 = corrupted, 1 = clean.");
        foreach (var (other, what) in new[] { ("head_v", "value"), ("head_pattern", "attention") })
            if (results.GridAt(g, "patching/head_out") is Grid o && results.GridAt(g, $"patching/{other}") is Grid v)
            {
                var sc = new ScatterFigure(Enumerable.Range(0, o.Values.Length).Select(i =>
                    new ScatterPoint(v.Values.Data[i], o.Values.Data[i], new HeadId(i / o.Cols.Count, i % o.Cols.Count).ToString(), i / o.Cols.Count)))
                { Title = $"{g}: Scatter plot of output patching vs {what} patching", XTitle = $"{what} patching", YTitle = "output patching", Diagonal = true };
                report.AddFigure(sc, $"Each dot is a head: points on the diagonal are explained by their {what}.");
            }
        if (results.Get(g, StudyNamedNeurons.Path)?["neurons"] is JsonArray named && named.Count > 0)
            report.AddFigure(NeuronText(results, g, named, $"{g}: the study's named neurons"),
                $"Post-GELU activations of the neurons the study names ({string.Join(", ", named.Select(n => n!["name"]!.ToString()))}) on every clean prompt.");
        if (results.Get(g, StudyAnalyses.NeuronPatching) is JsonObject np && Grid.FromJson(np["grid"]!) is Grid ng)
        {
            for (int r = 0; r < ng.Rows.Count; r++)
            {
                var y = Enumerable.Range(0, ng.Cols.Count).Select(c => (double)ng[r, c]).ToList();
                report.AddFigure(new LineFigure(ng.Cols, new LineSeries("normalized logit difference", y)) { Title = $"{g}: Logit Difference From Patched Neurons in MLP Layer {ng.Rows[r]}", XTitle = "neuron" },
                    $"Patching single neurons of layer {ng.Rows[r]} (mlp.hook_post, all positions).");
            }
            if (np["top"] is JsonArray top && top.Count > 0)
            {
                report.AddFigure(NeuronText(results, g, top, $"{g}: activations of the top neurons"),
                    "Post-GELU activations of the neurons with the largest |patching effect| on every clean prompt.");
                report.AddTable($"{g}: top neurons", ["neuron", "patching effect", "direct effect", "answers"],
                    top.Select(t => new[] { t!["name"]!.ToString(), F(t["effect"]!.GetValue<double>()), F(t["direct_effect"]!.GetValue<double>()),
                        string.Join(" - ", ((JsonArray)t["direct_effect_answers"]!).Select(a => a!.ToString())) }),
                    "Direct effect = W_out[n] · (W_U[:, a0] - W_U[:, a1]) for the first prompt's answers: how much one unit of activation moves the logit difference directly.");
            }
        }
        if (results.Get(g, StudyAnalyses.AttributionPatching) is JsonObject at)
            report.AddTable($"{g}: attribution patching candidates, then exact patching", ["component", "kind", "attribution (normalized)", "exact (normalized)"],
                ((JsonArray)at["candidates"]!).Select(c => new[] { c!["name"]!.ToString(), c["kind"]!.ToString(), F(c["attribution"]!.GetValue<double>()), F(c["exact"]!.GetValue<double>()) }),
                $"Attribution patching over every neuron and head, then exact patching of the top candidates (Pearson {F(at["agreement"]!["pearson"]!.GetValue<double>())}).");
    }

    private static void AddComparisons(Report report, StudyResults results, Study study, JsonObject cmp, JsonObject figs)
    {
        var groups = ((JsonArray)cmp["groups"]!).Select(x => x!.ToString()).ToList();
        double threshold = cmp["threshold"]!.GetValue<double>();
        report.AddSection("Comparisons across groups",
            $"The same figure for every group on one colour scale, and for every pair of groups the cells that differ (unpaired permutation test per cell, alpha {F(cmp["alpha"]!.GetValue<double>())}; 95% bootstrap intervals). " +
            $"Holm's correction runs within each pair of groups across that figure's cells; there is no correction across the {groups.Count * (groups.Count - 1) / 2} pairs or the {figs.Count} figures, so over all of them a few cells are expected to come out significant by chance.");
        var answers = new List<string>();
        foreach (var (figure, node) in figs)
        {
            string path = node!["path"]!.ToString();
            var grids = groups.Select(g => KeyValuePair.Create(g, StudyComparisons.Positional(results.GridAt(g, path)!))).ToList();
            if (grids[0].Value.Rows.Count == 1)
            {
                var rows = grids.Select(x => x.Key).ToList();
                var cols = grids[0].Value.Cols;
                var data = new double[rows.Count, cols.Count];
                for (int r = 0; r < rows.Count; r++) for (int c = 0; c < cols.Count; c++) data[r, c] = grids[r].Value[0, c];
                report.AddFigure(new HeatmapFigure(data, rows, cols) { Title = $"{figure} across groups", XTitle = "component", YTitle = "group" }, $"{figure}: one row per group, shared colour scale.");
            }
            else
            {
                var sm = SmallMultiplesFigure.FromGrids(grids, $"{figure} across groups");
                sm.Columns = Math.Min(4, grids.Count);
                report.AddFigure(sm, $"{figure} for each group (shared colour scale).");
            }
            var pairs = (JsonArray)node["pairs"]!;
            report.AddTable($"{figure}: differences between groups", ["A", "B", "largest |diff|", "at", "significant cells", $"|diff| < {F(threshold)} and significant"],
                pairs.Select(p => new[] { p!["a"]!.ToString(), p["b"]!.ToString(), F(p["max_abs_diff"]!.GetValue<double>()), p["max_cell"]!.ToString(),
                    $"{p["significant"]} / {p["cells"]}", $"{p["below_threshold_significant"]} / {p["below_threshold"]}" }));
            int small = pairs.Sum(p => p!["below_threshold"]!.GetValue<int>()), smallSig = pairs.Sum(p => p!["below_threshold_significant"]!.GetValue<int>());
            answers.Add($"{figure}: {smallSig} of {small} cell differences below {F(threshold)} are significant (Holm-corrected within each of the {pairs.Count} group pairs across its cells, not across pairs or figures).");
        }
        report.AddSection($"Are differences under {F(threshold)} real?", string.Join("\n\n", answers));
    }

    /// <summary>Neurons ({name, activations: [prompt][position]}) over the group's clean prompts as shaded text.</summary>
    private static NeuronTextFigure NeuronText(StudyResults results, string g, JsonArray neurons, string title)
    {
        var names = neurons.Select(t => t!["name"]!.ToString()).ToList();
        var tokens = (JsonArray)results.Groups[g]!["info"]!["str_tokens"]!;
        var text = new NeuronTextFigure(names) { Title = title };
        for (int p = 0; p < tokens.Count; p++)
        {
            var toks = ((JsonArray)tokens[p]!).Select(t => t!.ToString()).ToList();
            var acts = new double[names.Count, toks.Count];
            for (int k = 0; k < names.Count; k++)
                for (int t = 0; t < toks.Count; t++) acts[k, t] = neurons[k]!["activations"]![p]![t]!.GetValue<double>();
            text.Add(new NeuronTextPrompt(toks, acts));
        }
        return text;
    }

    private static LineFigure Line(Grid g, string title, string xTitle) =>
        new(g.Cols, new LineSeries("logit difference", Enumerable.Range(0, g.Cols.Count).Select(c => (double)g[0, c]).ToList())) { Title = title, XTitle = xTitle, YTitle = "logit difference" };

    private static HeatmapFigure Heatmap(Grid g, string title, string xTitle, string yTitle)
    {
        var h = HeatmapFigure.FromGrid(g, title);
        h.XTitle = xTitle; h.YTitle = yTitle;
        return h;
    }

    private static double[,] Matrix(JsonArray rows)
    {
        int n = rows.Count, m = ((JsonArray)rows[0]!).Count;
        var a = new double[n, m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) a[i, j] = rows[i]![j]!.GetValue<double>();
        return a;
    }
}
