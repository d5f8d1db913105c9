using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Studies.Verify;

namespace SharpLens.Studies;

/// <summary>
/// Compares a run's results.json with a reference in the notebook JSON format (<c>{groups, notebook_printed,
/// figures: [{group, title, traces}]}</c>, e.g. studies/reference/contraction-notebook.json), and
/// checks the study's claims on the run's numbers. Per group: the prompts and answers must be the reference's. Per
/// figure: structure first (shape, row and column labels: token positions, components, head names), then every value
/// within <c>atol + rtol · max|reference|</c> of the figure (<see cref="VerifyTolerance"/>), the worst cell named. Every
/// printed number (<see cref="PrintedNumbers"/>) likewise. A run passes when nothing exceeds, nothing differs in
/// structure, every claim holds and (unless missing items are allowed) nothing is missing.
/// </summary>
public static class StudyVerify
{
    /// <summary>Every verify line: groups, figures, printed numbers, then claims.</summary>
    /// <param name="results">The run.</param>
    /// <param name="reference">The reference (notebook format).</param>
    /// <param name="overrideTolerance">Replaces every non-exact default tolerance (the command line's --atol/--rtol), or null.</param>
    /// <param name="referenceSource">Names the reference in messages (its file).</param>
    public static IReadOnlyList<VerifyCheck> Compare(StudyResults results, JsonObject reference, VerifyTolerance? overrideTolerance = null, string referenceSource = "the reference")
    {
        if (reference["figures"] is not JsonArray figures)
            throw new InvalidInputException($"{referenceSource} has no \"figures\" list: expected the notebook JSON format {{\"figures\": [{{\"group\", \"title\", \"traces\"}}]}}");
        VerifyTolerance Tol(VerifyTolerance t) => overrideTolerance is null || t == VerifyTolerance.Exact ? t : overrideTolerance;
        var list = new List<VerifyCheck>();
        var refGroups = reference["groups"] as JsonObject;
        var groupLines = new Dictionary<string, VerifyCheck>();
        foreach (var g in figures.Select(f => f?["group"]?.ToString() ?? "").Concat(refGroups?.Select(kv => kv.Key) ?? []).Distinct())
            list.Add(groupLines[g] = GroupCheck(results, g, refGroups?[g]));
        for (int i = 0; i < figures.Count; i++)
        {
            var f = figures[i];
            string group = f?["group"]?.ToString() ?? "", title = f?["title"]?.ToString() ?? "";
            var map = ReferenceFigures.For(title);
            if (map is null) { list.Add(new(group, title, "", "no mapping", "verify does not know this figure title")); continue; }
            if (groupLines[group].Status == "missing") { list.Add(VerifyCheck.Missing(group, title, map.Source, $"group '{group}' is not in the results")); continue; }
            var expected = ReferenceFigures.Expected(map, (f?["traces"] as JsonArray)?.FirstOrDefault(), $"{referenceSource}: figures[{i}] ({group}: {title})");
            var ours = ReferenceFigures.Ours(results, group, map, out string? missing);
            list.Add(ours is null ? VerifyCheck.Missing(group, title, map.Source, missing!)
                : TableComparison.Compare(group, title, map.Source, ours, expected, Tol(VerifyTolerance.Default)));
        }
        if (reference["notebook_printed"] is JsonObject printed)
        {
            string exp1 = refGroups?.FirstOrDefault(kv => kv.Value?["experiment"]?.ToString() == "1").Key ?? "re_they";
            list.AddRange(PrintedNumbers.Compare(results, printed, exp1, Tol, referenceSource));
        }
        list.AddRange(Claims(results));
        return list;
    }

    /// <summary>The study's claims (from the study file stored in results.json) checked on the run's numbers.</summary>
    public static IEnumerable<VerifyCheck> Claims(StudyResults results)
    {
        if (results.Root["study_file"] is not JsonObject source) yield break;
        foreach (var c in StudyFile.FromNode(source.DeepClone(), "results.json study_file").Claims.Select(c => ClaimChecks.Check(c, results)))
            yield return new(c.Claim.Group, $"claim: {c.Claim.Text}", $"claim:{c.Claim.Kind}",
                c.Status switch { "held" => "held", "not held" => "not held", _ => "missing" }, $"{c.Criterion}: {c.Observed}");
    }

    /// <summary>The run's group has the reference's prompts and (correct, wrong) answers, in order.</summary>
    private static VerifyCheck GroupCheck(StudyResults results, string group, JsonNode? reference)
    {
        const string title = "prompts and answers";
        if (results.Groups[group]?["info"] is not JsonObject info) return VerifyCheck.Missing(group, title, "info", $"group '{group}' is not in the results");
        if (reference is null) return new(group, title, "info", "ok", "the reference lists no prompts for this group");
        var ours = Strings(info["prompts"]);
        var theirs = Strings(reference["prompts"]);
        string? problem = Differ(ours, theirs, "prompt");
        if (problem is null && reference["answers"] is JsonArray answers)
            problem = Differ(((info["answers"] as JsonArray) ?? []).Select(a => string.Join(" / ", Strings(a))).ToList(),
                answers.Select(a => string.Join(" / ", Strings(a))).ToList(), "answer pair");
        return problem is null ? new(group, title, "info", "ok", $"{ours.Count} prompts as in the reference") : new(group, title, "info", "structure", problem);
    }

    private static string? Differ(List<string> ours, List<string> theirs, string what)
    {
        if (ours.Count != theirs.Count) return $"{ours.Count} {what}s here, {theirs.Count} in the reference";
        for (int i = 0; i < ours.Count; i++)
            if (ours[i] != theirs[i])
                return $"{what} {i} is {TableComparison.Quote(ours[i])} here, {TableComparison.Quote(theirs[i])} in the reference";
        return null;
    }

    private static List<string> Strings(JsonNode? node) => (node as JsonArray)?.Select(v => v?.ToString() ?? "").ToList() ?? [];

    /// <summary>
    /// A reference file (notebook format) holding this run's own values and labels for every mappable figure, each
    /// group's prompts and answers and the printed numbers (<see cref="PrintedTemplate"/>), for self-checks and as a template.
    /// </summary>
    public static JsonObject ToReference(StudyResults results)
    {
        var figures = new JsonArray();
        var groups = new JsonObject();
        foreach (var (group, node) in results.Groups)
        {
            if (node?["info"] is JsonObject info)
                groups[group] = new JsonObject { ["prompts"] = info["prompts"]?.DeepClone(), ["answers"] = info["answers"]?.DeepClone(), ["experiment"] = info["experiment"]?.DeepClone() };
            var titles = ReferenceFigures.Titles.ToList();
            if (results.GridAt(group, StudyAnalyses.NeuronPatching) is Grid n) titles.AddRange(n.Rows.Select(ReferenceFigures.NeuronFigureTitle));
            foreach (var title in titles)
            {
                var map = ReferenceFigures.For(title)!;
                if (ReferenceFigures.Ours(results, group, map, out _) is not LabelledTable t) continue;
                figures.Add(new JsonObject { ["group"] = group, ["title"] = title, ["traces"] = new JsonArray(Trace(map, t)) });
            }
        }
        var reference = new JsonObject
        {
            ["source"] = $"sharplens study run of '{results.Root["study"]}' on {results.Model}", ["groups"] = groups,
            ["notebook_printed"] = PrintedTemplate.FromResults(results), ["figures"] = figures,
        };
        NonFiniteToNull(reference);
        return reference;
    }

    // JSON has no NaN or infinity: such a value (a result may hold one) is written as null, as Plotly writes NaN, and read
    // back as NaN (ReferenceFigures.Nums), which no comparison passes.
    private static void NonFiniteToNull(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o.ToList())
                    if (IsNonFinite(child)) o[key] = null;
                    else NonFiniteToNull(child);
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    if (IsNonFinite(a[i])) a[i] = null;
                    else NonFiniteToNull(a[i]);
                break;
        }
    }

    private static bool IsNonFinite(JsonNode? node) =>
        node is JsonValue v && (v.TryGetValue(out double d) && !double.IsFinite(d) || v.TryGetValue(out float f) && !float.IsFinite(f));

    private static JsonObject Trace(ReferenceFigures.Mapping map, LabelledTable t)
    {
        if (map.YPath is not null)
            return new JsonObject
            {
                ["type"] = "scatter", ["x"] = Arr(t.Values.Where((_, i) => i % 2 == 0)), ["y"] = Arr(t.Values.Where((_, i) => i % 2 == 1)), ["hovertext"] = Labels(t.Rows),
            };
        if (t.RowAxis.Length > 0)
        {
            var z = new JsonArray();
            for (int r = 0; r < t.Rows.Count; r++) z.Add(Arr(t.Values.Skip(r * t.Cols.Count).Take(t.Cols.Count)));
            return new JsonObject { ["type"] = "heatmap", ["x"] = Labels(t.Cols), ["z"] = z };
        }
        return map.NeuronLayer is not null
            ? new JsonObject { ["type"] = "scattergl", ["x"] = Labels(t.Cols), ["y"] = Arr(t.Values) }
            : new JsonObject { ["type"] = "scatter", ["y"] = Arr(t.Values), ["hovertext"] = Labels(t.Cols) };
    }

    private static JsonArray Arr(IEnumerable<double> v) => new(v.Select(x => (JsonNode?)x).ToArray());

    private static JsonArray Labels(IEnumerable<string> v) => new(v.Select(x => (JsonNode?)x).ToArray());
}
