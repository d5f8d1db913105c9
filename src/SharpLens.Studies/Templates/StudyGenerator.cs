using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Metrics;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Studies.Templates;

/// <summary>
/// Scores clean prompts: the logit difference logit(correct) - logit(wrong) at each prompt's final position
/// (answers are single-token texts). <see cref="StudyGenerator.ModelScorer"/> is the real one; tests inject fakes.
/// </summary>
public delegate float[] PromptScorer(IReadOnlyList<string> prompts, IReadOnlyList<(string Correct, string Wrong)> answers);

/// <summary>Options of <see cref="StudyGenerator.Generate"/>.</summary>
public sealed record GenerateOptions
{
    /// <summary>Groups with fewer valid pairs are dropped.</summary>
    public int MinPairs { get; init; } = 4;
    /// <summary>At most this many pairs (2 prompts each) per group.</summary>
    public int MaxPairs { get; init; } = 8;
    /// <summary>Overrides the spec's group analyses (null = the spec's, or the notebook's experiment-2 set).</summary>
    public IReadOnlyList<string>? Analyses { get; init; }
    /// <summary>Drops prompts the model does not get right (logit difference &lt;= 0); null = no model check.</summary>
    public PromptScorer? Scorer { get; init; }
    /// <summary>How many candidate pairs are scored at once.</summary>
    public int ScoreBatch { get; init; } = 16;
}

/// <summary>A prompt (or pair) left out, with the reason. Kind: "pair_length" (the pair's prompts differ in length),
/// "group_length" (another length than the group's), "model" (the model prefers the wrong form).</summary>
public sealed record DroppedPrompt(string Group, string Prompt, string Kind, string Reason);

/// <summary>One group's outcome: kept with its pairs, or dropped with the reason.</summary>
public sealed record GroupOutcome(string Name, bool Kept, int Pairs, int Candidates, int Tokens, string? Reason);

/// <summary>The generated study (null when no group was kept), its file text (normalised JSON), and what was kept or dropped and why.</summary>
public sealed record GeneratedStudy(Study? Study, JsonObject Json, IReadOnlyList<GroupOutcome> Groups, IReadOnlyList<DroppedPrompt> Dropped, IReadOnlyList<string> Notes)
{
    /// <summary>The generated study file as indented JSON (apostrophes and angle brackets kept readable).</summary>
    public string ToJsonString() => Json.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}

/// <summary>
/// Expands a <see cref="TemplateSpec"/> into a <see cref="Study"/>: one group per contraction x second pronoun (e.g. "ll_they"),
/// each with prompt pairs (contraction prompt, full-form prompt) answered ("'ll", " will") / (" will", "'ll") and corrupted by
/// swap_pairs, exactly like the notebook's groups. Checks: single-token answers (else the contraction's groups are dropped),
/// equal token length within a pair and across the group (else the pair is dropped), and with a scorer the model's preference
/// for the right form on both clean prompts (else the pair is dropped); groups with fewer than MinPairs pairs are dropped.
/// </summary>
public static class StudyGenerator
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A string quoted as in JSON, apostrophes kept: "'ll".</summary>
    internal static string Q(string s) => JsonSerializer.Serialize(s, Relaxed);

    /// <summary>Analyses of a generated group when neither the options nor the spec's group defaults name any.</summary>
    internal static readonly string[] DefaultAnalyses = [StudyAnalyses.ModelCheck, StudyAnalyses.LogitLens, StudyAnalyses.LayerAttribution,
        StudyAnalyses.HeadAttribution, StudyAnalyses.Patching, StudyAnalyses.Comparisons];

    /// <summary>One candidate pair of a group, before checks.</summary>
    internal sealed record Pair(string Contracted, string Full);

    /// <summary>Every candidate pair of a group (deduplicated), in a deterministic shuffled order.</summary>
    internal static List<Pair> Candidates(TemplateSpec spec, ContractionSpec c, string pronoun2, int groupIndex)
    {
        var seen = new HashSet<string>();
        var list = new List<Pair>();
        foreach (var template in spec.Templates)
            foreach (var pronoun in c.Pronouns)
                foreach (var verb in spec.Verbs)
                    foreach (var obj in verb.Objects)
                        foreach (var connective in spec.Connectives)
                        {
                            string Fill(string form) => Expand(template, pronoun, form, verb, c.VerbForm, obj, connective, pronoun2);
                            var pair = new Pair(Fill(c.Contraction), Fill(c.Full));
                            if (seen.Add(pair.Contracted)) list.Add(pair);
                        }
        var rng = new Random(unchecked(spec.Seed * 7919 + groupIndex));
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
        return list;
    }

    private static string Expand(string template, string pronoun, string form, VerbSpec verb, string verbForm, string obj, string connective, string pronoun2) =>
        template.Replace("{Pronoun}", TemplateSpec.Upper(pronoun)).Replace("{pronoun}", TemplateSpec.Lower(pronoun))
            .Replace("{contraction}", form).Replace("{verb}", verb.Forms[verbForm]).Replace("{verb_base}", verb.Forms["base"])
            .Replace("{verb_ing}", verb.Forms["ing"]).Replace("{verb_pp}", verb.Forms["pp"]).Replace("{object}", obj)
            .Replace("{connective}", connective).Replace("{pronoun2}", pronoun2)
            .Replace("  ", " ");

    /// <summary>Null when <paramref name="answer"/> is one token; otherwise the one-line problem, listing its tokens.</summary>
    internal static string? SingleTokenProblem(Tokenizer tok, string answer) =>
        tok.SingleTokenProblem(answer, out _) is string problem ? $"answer {problem}: every answer must be a single token" : null;

    /// <summary>Expands <paramref name="spec"/> into a study, tokenizing with <paramref name="tokenizer"/>; with a scorer in
    /// <paramref name="options"/> only pairs the model answers right on both prompts are kept.</summary>
    public static GeneratedStudy Generate(TemplateSpec spec, Tokenizer tokenizer, GenerateOptions? options = null)
    {
        options ??= new GenerateOptions();
        if (options.MinPairs < 1) throw new InvalidInputException($"--min-pairs must be at least 1, got {options.MinPairs}");
        if (options.MaxPairs < options.MinPairs) throw new InvalidInputException($"--max-pairs ({options.MaxPairs}) must be at least --min-pairs ({options.MinPairs})");
        var outcomes = new List<GroupOutcome>();
        var dropped = new List<DroppedPrompt>();
        var notes = new List<string>();
        var groups = new List<(string Name, ContractionSpec C, string Pronoun2, List<Pair> Pairs)>();
        int groupIndex = 0;
        foreach (var c in spec.Contractions)
        {
            string? problem = SingleTokenProblem(tokenizer, c.Contraction) ?? SingleTokenProblem(tokenizer, c.Full);
            if (problem is null && tokenizer.ToTokens(c.Contraction, false)[0] == tokenizer.ToTokens(c.Full, false)[0])
                problem = $"the contraction {Q(c.Contraction)} and the full form {Q(c.Full)} are the same token";
            foreach (var p2 in c.SecondPronouns)
            {
                string name = $"{c.Name}_{p2.ToLowerInvariant()}";
                var candidates = Candidates(spec, c, p2, groupIndex++);
                if (problem is not null) { outcomes.Add(new(name, false, 0, candidates.Count, 0, problem)); continue; }
                var (pairs, tokens) = Select(spec, tokenizer, name, c, candidates, options, dropped);
                if (pairs.Count < options.MinPairs)
                    outcomes.Add(new(name, false, pairs.Count, candidates.Count, tokens,
                        $"only {pairs.Count} valid pair{(pairs.Count == 1 ? "" : "s")} of {candidates.Count} candidates, fewer than the minimum of {options.MinPairs}"));
                else
                {
                    outcomes.Add(new(name, true, pairs.Count, candidates.Count, tokens, null));
                    groups.Add((name, c, p2, pairs));
                }
            }
        }
        var json = StudyJson(spec, groups, options, notes);
        var study = groups.Count == 0 ? null : StudyFile.FromNode(json.DeepClone(), $"{spec.Name} (generated)");
        return new GeneratedStudy(study, json, outcomes, dropped, notes);
    }

    /// <summary>
    /// Walks a group's candidates in order: pairs of unequal token length are dropped; with a scorer, candidates are scored in
    /// batches and pairs the model gets wrong on either prompt are dropped. Stops when one token length has MaxPairs valid pairs;
    /// keeps the length with the most valid pairs (earliest on ties) so the group's prompts align; other lengths are dropped.
    /// </summary>
    private static (List<Pair> Pairs, int Tokens) Select(TemplateSpec spec, Tokenizer tok, string group, ContractionSpec c,
        List<Pair> candidates, GenerateOptions options, List<DroppedPrompt> dropped)
    {
        var byLength = new Dictionary<int, List<Pair>>();
        var order = new List<int>();
        int Len(string prompt) => tok.ToTokens(prompt, spec.PrependBos).Length;
        int next = 0;
        while (next < candidates.Count && !byLength.Values.Any(l => l.Count >= options.MaxPairs))
        {
            var chunk = new List<(Pair Pair, int Length)>();
            while (next < candidates.Count && chunk.Count < Math.Max(1, options.ScoreBatch))
            {
                var p = candidates[next++];
                int a = Len(p.Contracted), b = Len(p.Full);
                if (a != b)
                    dropped.Add(new(group, p.Contracted, "pair_length",
                        $"paired prompts differ in length: {a} tokens here, {b} in {Q(p.Full)}: positions would not align"));
                else chunk.Add((p, a));
            }
            if (chunk.Count == 0) continue;
            float[]? diffs = null;
            if (options.Scorer is { } scorer)
            {
                var prompts = chunk.SelectMany(x => new[] { x.Pair.Contracted, x.Pair.Full }).ToList();
                var answers = chunk.SelectMany(_ => new[] { (c.Contraction, c.Full), (c.Full, c.Contraction) }).ToList();
                diffs = scorer(prompts, answers);
                if (diffs.Length != prompts.Count)
                    throw new InvalidOperationException($"the scorer returned {diffs.Length} logit differences for {prompts.Count} prompts");
            }
            for (int i = 0; i < chunk.Count; i++)
            {
                var (p, length) = chunk[i];
                if (diffs is not null)
                {
                    string? reason = null;
                    foreach (var (prompt, correct, wrong, d) in new[] { (p.Contracted, c.Contraction, c.Full, diffs[2 * i]), (p.Full, c.Full, c.Contraction, diffs[2 * i + 1]) })
                        if (!(d > 0))
                        {
                            reason = $"the model prefers {Q(wrong)} over {Q(correct)} after {Q(prompt)} (logit difference {Findings.F(d)})";
                            break;
                        }
                    if (reason is not null) { dropped.Add(new(group, p.Contracted, "model", reason)); continue; }
                }
                if (!byLength.TryGetValue(length, out var list)) { byLength[length] = list = []; order.Add(length); }
                list.Add(p);
            }
        }
        if (order.Count == 0) return ([], 0);
        int best = order.OrderByDescending(l => Math.Min(byLength[l].Count, options.MaxPairs)).ThenBy(order.IndexOf).First();
        foreach (int l in order.Where(l => l != best))
            foreach (var p in byLength[l])
                dropped.Add(new(group, p.Contracted, "group_length", $"{l} tokens, but the group's prompts are {best} tokens: every prompt of a group must have the same length"));
        var kept = byLength[best];
        return (kept.Take(options.MaxPairs).ToList(), best);
    }

    private static JsonObject StudyJson(TemplateSpec spec, List<(string Name, ContractionSpec C, string Pronoun2, List<Pair> Pairs)> groups,
        GenerateOptions options, List<string> notes)
    {
        var root = new JsonObject { ["name"] = spec.Name };
        foreach (var (key, value) in spec.Study)
            if (key != "name") root[key] = value?.DeepClone();
        var groupsNode = new JsonObject();
        foreach (var (name, c, p2, pairs) in groups)
        {
            var g = new JsonObject
            {
                ["title"] = $"{Q(c.Contraction)} vs {Q(c.Full)} after \"{p2}\" ({pairs.Count} pairs)",
                ["experiment"] = 2,
            };
            var prompts = new JsonArray();
            var answers = new JsonArray();
            foreach (var p in pairs)
            {
                prompts.Add(p.Contracted);
                prompts.Add(p.Full);
                answers.Add(new JsonArray(c.Contraction, c.Full));
                answers.Add(new JsonArray(c.Full, c.Contraction));
            }
            g["prompts"] = prompts;
            g["answers"] = answers;
            g["corrupted"] = "swap_pairs";
            foreach (var (key, value) in spec.GroupDefaults) g[key] = value?.DeepClone();
            var analyses = options.Analyses ?? (spec.GroupDefaults["analyses"] is JsonArray a ? a.Select(x => x!.ToString()).ToList() : DefaultAnalyses);
            if (groups.Count < 2 && analyses.Contains(StudyAnalyses.Comparisons))
            {
                analyses = analyses.Where(x => x != StudyAnalyses.Comparisons).ToList();
                notes.Add($"only group '{name}' was kept: \"comparisons\" (which needs two groups) was left out");
            }
            g["analyses"] = new JsonArray(analyses.Select(x => (JsonNode?)x).ToArray());
            groupsNode[name] = g;
        }
        root["groups"] = groupsNode;
        // Compare only the figures every compared group computes (--analyses may have left some out).
        var compared = groupsNode.Select(kv => (JsonObject)kv.Value!).Where(g => ((JsonArray)g["analyses"]!).Any(a => a!.ToString() == StudyAnalyses.Comparisons)).ToList();
        if (compared.Count > 0)
        {
            var comparisons = root["comparisons"] as JsonObject ?? new JsonObject();
            var figures = comparisons["figures"] is JsonArray fa ? fa.Select(f => f!.ToString()).ToList() : new ComparisonSettings().Figures.ToList();
            bool Computes(JsonObject g, string figure)
            {
                var analyses = ((JsonArray)g["analyses"]!).Select(a => a!.ToString()).ToList();
                var patching = g["patching"] is JsonArray pa ? pa.Select(p => p!.ToString()).ToList() : ["resid_pre", "attn_out", "mlp_out", "head_out", "head_v", "head_pattern"];
                return figure is StudyAnalyses.LogitLens or StudyAnalyses.LayerAttribution or StudyAnalyses.HeadAttribution
                    ? analyses.Contains(figure) : analyses.Contains(StudyAnalyses.Patching) && patching.Contains(figure);
            }
            var kept = figures.Where(f => compared.All(g => Computes(g, f))).ToList();
            foreach (var f in figures.Except(kept)) notes.Add($"comparison figure '{f}' left out: the groups' analyses do not compute it");
            comparisons["figures"] = new JsonArray(kept.Select(f => (JsonNode?)f).ToArray());
            root["comparisons"] = comparisons;
        }
        // Claims about groups that were dropped would not validate.
        if (root["claims"] is JsonArray claims)
            foreach (var claim in claims.ToList())
                if (claim?["group"]?.ToString() is string cg && !groupsNode.ContainsKey(cg))
                {
                    claims.Remove(claim);
                    notes.Add($"claim about dropped group '{cg}' left out");
                }
        return root;
    }

    /// <summary>
    /// The real scorer: runs <paramref name="model"/> (GPT-2 vocabulary and tokenizer) on the prompts in batches, final-position
    /// logits only, and returns logit(correct) - logit(wrong) per prompt.
    /// </summary>
    public static PromptScorer ModelScorer(HookedTransformer model, bool? prependBos = null, int batchSize = 32)
    {
        var tok = model.RequireTokenizer();
        return (prompts, answers) =>
        {
            var result = new float[prompts.Count];
            for (int start = 0; start < prompts.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, prompts.Count - start);
                var batch = tok.ToTokens(prompts.Skip(start).Take(n).ToList(), prependBos);
                var ids = answers.Skip(start).Take(n).Select(a => (tok.ToSingleToken(a.Correct), tok.ToSingleToken(a.Wrong))).ToList();
                var logits = model.Run(batch, new ForwardOptions { Logits = LogitsMode.Final });
                LogitDiff.PerPrompt(logits, ids).CopyTo(result, start);
            }
            return result;
        };
    }
}
