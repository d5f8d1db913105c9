using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies.Verify;

/// <summary>
/// The notebook's printed numbers (<c>notebook_printed</c>) compared with a run: experiment 1's token ids and string
/// tokens, per-prompt and mean logit differences (clean, corrupted, DLA-reconstructed), the top-3 head DLA values,
/// the <c>test_prompt</c> output (rank, logit, probability, top-k) and the named neurons' activations at every position.
/// </summary>
internal static class PrintedNumbers
{
    /// <summary>One verify line per printed item of <paramref name="printed"/>.</summary>
    /// <param name="results">The run.</param>
    /// <param name="printed">The reference's notebook_printed object.</param>
    /// <param name="exp1">The experiment-1 group (the reference's group with "experiment": 1).</param>
    /// <param name="tolerance">Maps each item's default tolerance to the one applied (command-line overrides).</param>
    /// <param name="source">Names the reference in messages about a malformed printed item.</param>
    public static List<VerifyCheck> Compare(StudyResults results, JsonObject printed, string exp1, Func<VerifyTolerance, VerifyTolerance> tolerance, string source = "the reference")
    {
        var list = new List<VerifyCheck>();
        void Add(string key, string group, string title, string source, LabelledTable? ours, Func<LabelledTable> expected, VerifyTolerance? tol = null)
        {
            if (printed[key] is null) return;
            list.Add(TableComparison.Compare(group, $"{title} (printed: {key})", source, ours, expected(), tolerance(tol ?? VerifyTolerance.Default)));
        }
        var mc = results.Get(exp1, StudyAnalyses.ModelCheck);
        Add("exp1_tokens", exp1, "token ids", "model_check/predictions", TokenIds(mc), () => IntTable(printed["exp1_tokens"]!, $"{source}: notebook_printed.exp1_tokens"), VerifyTolerance.Exact);
        Add("exp1_str_tokens_prompt0", exp1, "tokens of prompt 0", "info/str_tokens", Tokens(results.Get(exp1, "info/str_tokens")?[0]),
            () => Tokens(printed["exp1_str_tokens_prompt0"])!, VerifyTolerance.Exact);
        Add("exp1_logit_diff_per_prompt", exp1, "clean logit difference per prompt", "model_check/clean_per_prompt", PerPrompt(mc?["clean_per_prompt"]),
            () => PerPrompt(printed["exp1_logit_diff_per_prompt"])!);
        Add("exp1_logit_diff_mean", exp1, "mean clean logit difference", "model_check/clean_logit_diff", Scalar(mc?["clean_logit_diff"]), () => Scalar(printed["exp1_logit_diff_mean"])!);
        Add("exp1_corrupted_logit_diff_mean", exp1, "mean corrupted logit difference", "model_check/corrupted_logit_diff", Scalar(mc?["corrupted_logit_diff"]),
            () => Scalar(printed["exp1_corrupted_logit_diff_mean"])!);
        var layers = results.GridAt(exp1, StudyAnalyses.LayerAttribution);
        Add("exp1_dla_reconstructed_mean", exp1, "sum of the components' direct attributions", "layer_attribution (sum)",
            layers is null ? null : Scalar(layers.Values.Data.Sum(v => (double)v)), () => Scalar(printed["exp1_dla_reconstructed_mean"])!);
        Add("exp1_top3_head_dla", exp1, "top-3 head DLA values", "head_attribution (top 3)", Top(results.GridAt(exp1, StudyAnalyses.HeadAttribution), 3),
            () => Ranked(printed["exp1_top3_head_dla"])!);
        foreach (var (g, v) in printed["exp2_logit_diff_per_prompt"] as JsonObject ?? [])
            list.Add(TableComparison.Compare(g, "clean logit difference per prompt (printed: exp2_logit_diff_per_prompt)", "model_check/clean_per_prompt",
                PerPrompt(results.Get(g, "model_check/clean_per_prompt")), PerPrompt(v)!, tolerance(VerifyTolerance.Default)));
        foreach (var (g, v) in printed["exp2_logit_diff_mean"] as JsonObject ?? [])
            list.Add(TableComparison.Compare(g, "mean clean logit difference (printed: exp2_logit_diff_mean)", "model_check/clean_logit_diff",
                Scalar(results.Get(g, "model_check/clean_logit_diff")), Scalar(v)!, tolerance(VerifyTolerance.Default)));
        foreach (var (g, v) in printed["exp2_top3_head_dla"] as JsonObject ?? [])
            list.Add(TableComparison.Compare(g, "top-3 head DLA values (printed: exp2_top3_head_dla)", "head_attribution (top 3)",
                Top(results.GridAt(g, StudyAnalyses.HeadAttribution), 3), Ranked(v)!, tolerance(VerifyTolerance.Default)));
        if (printed["test_prompt"] is JsonObject tp) list.AddRange(TestPrompt(results, tp, tolerance));
        if (printed["neuron_activations"] is JsonObject na)
            foreach (var (name, data) in na) list.Add(NeuronActivations(results, name, data!, tolerance(VerifyTolerance.Default), $"{source}: notebook_printed.neuron_activations.{name}"));
        return list;
    }

    /// <summary>test_prompt: the answer's rank (exact), logit and probability, and the top-k tokens in order with their logits and probabilities.</summary>
    private static List<VerifyCheck> TestPrompt(StudyResults results, JsonObject tp, Func<VerifyTolerance, VerifyTolerance> tolerance)
    {
        string prompt = tp["prompt"]?.ToString() ?? "", answer = tp["answer"]?.ToString() ?? "";
        string title = $"test_prompt {TableComparison.Quote(prompt)}";
        var (group, ours) = FindTestPrompt(results, prompt, answer);
        if (ours is null)
            return [VerifyCheck.Missing("", title, StudyTestPrompts.Path, $"no group's test_prompts has this prompt with answer {TableComparison.Quote(answer)}: add it to the study (\"test_prompts\")")];
        var a = ours["answer"];
        var list = new List<VerifyCheck>
        {
            TableComparison.Compare(group, $"{title}: answer rank", StudyTestPrompts.Path, Scalar(a?["rank"]), Scalar(tp["answer_rank"])!, VerifyTolerance.Exact),
            TableComparison.Compare(group, $"{title}: answer logit", StudyTestPrompts.Path, Scalar(a?["logit"]), Scalar(tp["answer_logit_centered"])!, tolerance(VerifyTolerance.TwoDecimals)),
            TableComparison.Compare(group, $"{title}: answer probability (%)", StudyTestPrompts.Path,
                a?["prob"] is JsonNode p ? Scalar(p.GetValue<double>() * 100) : null, Scalar(tp["answer_prob_percent"])!, tolerance(VerifyTolerance.TwoDecimals)),
        };
        if (tp["top10"] is JsonArray top)
        {
            var expected = new LabelledTable("rank", top.Select(t => t![0]!.ToString()).ToArray(), "", ["logit", "prob %"],
                top.SelectMany(t => new[] { t![1]!.GetValue<double>(), t[2]!.GetValue<double>() }).ToArray());
            var mine = ours["top_k"] as JsonArray;
            LabelledTable? table = mine is null ? null : new("rank", mine.Take(top.Count).Select(t => t!["token"]!.ToString()).ToArray(), "", ["logit", "prob %"],
                mine.Take(top.Count).SelectMany(t => new[] { t!["logit"]!.GetValue<double>(), t["prob"]!.GetValue<double>() * 100 }).ToArray());
            list.Add(TableComparison.Compare(group, $"{title}: top-{top.Count} tokens", StudyTestPrompts.Path, table, expected, tolerance(VerifyTolerance.TwoDecimals)));
        }
        return list;
    }

    private static (string Group, JsonNode? Entry) FindTestPrompt(StudyResults results, string prompt, string answer)
    {
        foreach (var (g, node) in results.Groups)
            foreach (var entry in node?[StudyTestPrompts.Path] as JsonArray ?? [])
                if (entry?["prompt"]?.ToString() == prompt && entry["answer"]?["token"]?.ToString() == answer) return (g, entry);
        return ("", null);
    }

    /// <summary>A named neuron's post-GELU activation at every position of the prompt it was printed for, labelled by token.</summary>
    private static VerifyCheck NeuronActivations(StudyResults results, string name, JsonNode data, VerifyTolerance tolerance, string where)
    {
        string text = data["text"]?.ToString() ?? "";
        var expected = LabelledTable.Line("token", Labels(data["tokens"]), ReferenceFigures.Nums(data["post_gelu_activation"], $"{where}.post_gelu_activation"));
        string title = $"{name} activation at every position of {TableComparison.Quote(text)} (printed: neuron_activations)";
        foreach (var (g, node) in results.Groups)
        {
            int b = (node?["info"]?["prompts"] as JsonArray)?.Select(p => p?.ToString()).ToList().IndexOf(text) ?? -1;
            if (b < 0) continue;
            var entry = (node?[StudyNamedNeurons.Path]?["neurons"] as JsonArray)?.FirstOrDefault(n => n?["name"]?.ToString() == name);
            if (entry is null) continue;
            var acts = entry["activations"]?[b] as JsonArray;
            var tokens = Labels(node?["info"]?["str_tokens"]?[b]);
            var ours = acts is null ? null : LabelledTable.Line("token", tokens, acts.Select(v => v!.GetValue<double>()));
            return TableComparison.Compare(g, title, StudyNamedNeurons.Path, ours, expected, tolerance);
        }
        return VerifyCheck.Missing("", title, StudyNamedNeurons.Path, $"no group has this prompt with {name} among its named neurons (\"neurons\")");
    }

    private static LabelledTable? TokenIds(JsonNode? modelCheck)
    {
        if (modelCheck?["predictions"] is not JsonArray p) return null;
        var rows = p.Select(x => (x?["tokens"] as JsonArray)?.Select(v => v!.GetValue<double>()).ToArray() ?? []).ToList();
        return Rectangle(rows);
    }

    private static LabelledTable IntTable(JsonNode node, string where) =>
        Rectangle((node as JsonArray ?? throw new InvalidInputException($"{where} must be a list of token id lists, not {InputFiles.Describe(node)}"))
            .Select((r, i) => ReferenceFigures.Nums(r, $"{where}[{i}]").ToArray()).ToList());

    /// <summary>Prompts x positions; ragged rows keep their own lengths, so a length difference is a shape difference.</summary>
    private static LabelledTable Rectangle(List<double[]> rows)
    {
        int width = rows.Count == 0 ? 0 : rows.Max(r => r.Length);
        if (rows.Any(r => r.Length != width))
            return new("prompt", rows.Select((r, i) => $"{i} ({r.Length} tokens)").ToArray(), "position", LabelledTable.Indices(width), []);
        return new("prompt", LabelledTable.Indices(rows.Count), "position", LabelledTable.Indices(width), rows.SelectMany(r => r).ToArray());
    }

    /// <summary>Tokens as labels only (no values): compared as structure.</summary>
    private static LabelledTable? Tokens(JsonNode? node) => node is JsonArray ? new LabelledTable("", [""], "token", Labels(node), []) : null;

    private static LabelledTable? PerPrompt(JsonNode? node) => node is JsonArray a
        ? LabelledTable.Line("prompt", LabelledTable.Indices(a.Count), a.Select(v => v is JsonValue jv && jv.TryGetValue(out double d) ? d : double.NaN)) : null;

    private static LabelledTable? Scalar(JsonNode? node) => node is JsonValue v && v.TryGetValue(out double d) ? Scalar(d) : null;

    private static LabelledTable Scalar(double value) => LabelledTable.Line("", ["value"], [value]);

    private static LabelledTable? Ranked(JsonNode? node) => node is JsonArray a
        ? LabelledTable.Line("rank", Enumerable.Range(1, a.Count).Select(i => i.ToString()).ToArray(), a.Select(v => v!.GetValue<double>())) : null;

    private static LabelledTable? Top(Grid? grid, int k) => grid is null ? null
        : LabelledTable.Line("rank", Enumerable.Range(1, k).Select(i => i.ToString()).ToArray(), grid.Values.Data.OrderByDescending(v => v).Take(k).Select(v => (double)v));

    private static string[] Labels(JsonNode? node) => (node as JsonArray)?.Select(v => v?.ToString() ?? "").ToArray() ?? [];
}
