using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Circuits;

namespace SharpLens.Studies;

/// <summary>
/// The study file's <c>"circuits"</c> block (see docs/circuits.md, "In a study"). Every key is optional:
/// <c>groups</c> (names; default: every group of <c>experiment</c>), <c>experiment</c> (2), <c>method</c>
/// (<c>eap-ig</c> or <c>eap</c>), <c>steps</c> (5), <c>edges</c> (200, at most the model's edge count), <c>curve</c> (circuit
/// sizes; default 12 sizes spaced evenly in log scale from 10 to the full graph), <c>resamples</c>
/// (1000), <c>seed</c> (0), <c>path_group</c> (default: the first group of experiment 1, else the first circuit group),
/// <c>receivers</c> (["a7.h11&lt;v&gt;", "a7.h11&lt;q&gt;"]), <c>ov_head</c> ("L7H11"), <c>ov_tokens</c>,
/// <c>bigram_sources</c> and <c>bigram_answers</c> (two tokens).
/// </summary>
/// <param name="Groups">Groups named explicitly, or null for every group of <paramref name="Experiment"/>.</param>
/// <param name="Experiment">The experiment whose groups get circuits when <paramref name="Groups"/> is null.</param>
/// <param name="Method">EAP or EAP-IG.</param>
/// <param name="Steps">EAP-IG interpolation steps.</param>
/// <param name="Edges">Edges per circuit (greedy growth from the logits, pruned), or null for the default (<see cref="EdgesFor"/>).</param>
/// <param name="Curve">Circuit sizes of the faithfulness curve, or null for the default (<see cref="CurveFor"/>).</param>
/// <param name="Resamples">Bootstrap resamples for every CI.</param>
/// <param name="Seed">Bootstrap seed.</param>
/// <param name="PathGroup">The group path patching runs on, or null for the default.</param>
/// <param name="Receivers">Path patching receivers (EAP-IG input names such as <c>a7.h11&lt;v&gt;</c>).</param>
/// <param name="OvHead">The head of the weights-based view (a head name, e.g. "L7H11"), or null to skip it.</param>
/// <param name="OvTokens">Attended tokens whose OV readout is shown.</param>
/// <param name="BigramSources">Source tokens of the direct bigram path.</param>
/// <param name="BigramAnswers">The (correct, wrong) answer pair of the bigram path.</param>
public sealed record CircuitsSettings(IReadOnlyList<string>? Groups, int Experiment, EdgeScoringMethod Method, int Steps, int? Edges,
    IReadOnlyList<int>? Curve, int Resamples, int Seed, string? PathGroup, IReadOnlyList<string> Receivers, string? OvHead,
    IReadOnlyList<StudyToken> OvTokens, IReadOnlyList<StudyToken> BigramSources, IReadOnlyList<StudyToken> BigramAnswers)
{
    private static readonly string[] Keys = ["groups", "experiment", "method", "steps", "edges", "curve", "resamples", "seed",
        "path_group", "receivers", "ov_head", "ov_tokens", "bigram_sources", "bigram_answers"];

    /// <summary>The circuit size when the block gives none: 200 edges, or the whole graph of a model with fewer.</summary>
    public const int DefaultEdges = 200;

    /// <summary>Edges per circuit on <paramref name="graph"/>: as given, else <see cref="DefaultEdges"/> capped at the graph's size.</summary>
    public int EdgesFor(CircuitGraph graph) => Edges ?? Math.Min(DefaultEdges, graph.Edges.Count);

    /// <summary>The curve's circuit sizes on <paramref name="graph"/>, ascending: as given, else 12 sizes spaced evenly in
    /// log scale from 10 (or fewer on a tiny graph) to the full graph, as EAP-IG and auto-circuit plot faithfulness.</summary>
    public int[] CurveFor(CircuitGraph graph) => Curve is not null ? Curve.Distinct().Order().ToArray()
        : CircuitDiscovery.LogSizes(Math.Min(10, graph.Edges.Count), graph.Edges.Count, 12);

    /// <summary>The block's method name as written in the file and results (<c>eap</c>, <c>eap-ig</c>).</summary>
    public string MethodName => Method == EdgeScoringMethod.Eap ? "eap" : "eap-ig";

    /// <summary>Parses the block; a wrong type or unknown key is a one-line error prefixed by <paramref name="source"/>.</summary>
    public static CircuitsSettings Parse(JsonObject c, string source)
    {
        InvalidInputException Error(string message) => new($"{source}: circuits.{message}");
        foreach (var (key, _) in c)
            if (!Keys.Contains(key)) throw Error($"{key} is not a setting: known ones are {string.Join(", ", Keys)}");
        int Int(string key, int fallback) => c[key] switch
        {
            null => fallback,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) => i,
            var other => throw Error($"{key} must be an integer, not {other.ToJsonString()}"),
        };
        string? Str(string key) => c[key] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.ToString(),
            var other => throw Error($"{key} must be a string, not {other.ToJsonString()}"),
        };
        List<string>? Strs(string key) => c[key] switch
        {
            null => null,
            JsonArray a => a.Select((x, i) => x is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.ToString()
                : throw Error($"{key}[{i}] must be a string, not {x?.ToJsonString() ?? "null"}")).ToList(),
            var other => throw Error($"{key} must be a list of strings, not {other.ToJsonString()}"),
        };
        // Tokens: text (one GPT-2 token) or an integer token id.
        List<StudyToken>? Tokens(string key) => c[key] switch
        {
            null => null,
            JsonArray a => a.Select((x, i) => x switch
            {
                JsonValue v when v.GetValueKind() == JsonValueKind.String => new StudyToken(v.ToString(), null),
                JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int id) => new StudyToken(null, [id]),
                _ => throw Error($"{key}[{i}] must be a token (text or an integer id), not {x?.ToJsonString() ?? "null"}"),
            }).ToList(),
            var other => throw Error($"{key} must be a list of tokens, not {other.ToJsonString()}"),
        };
        static List<StudyToken> Texts(params string[] texts) => texts.Select(t => new StudyToken(t, null)).ToList();
        string method = Str("method") ?? "eap-ig";
        var scoring = method switch
        {
            "eap-ig" => EdgeScoringMethod.EapIg,
            "eap" => EdgeScoringMethod.Eap,
            _ => throw Error($"method '{method}' is not known: use eap-ig or eap"),
        };
        var curve = c["curve"] switch
        {
            null => null,
            JsonArray a => a.Select((x, i) => x is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int n) ? n
                : throw Error($"curve[{i}] must be an integer circuit size, not {x?.ToJsonString() ?? "null"}")).ToList(),
            var other => throw Error($"curve must be a list of circuit sizes, not {other.ToJsonString()}"),
        };
        return new CircuitsSettings(Strs("groups"), Int("experiment", 2), scoring, Int("steps", 5), c["edges"] is null ? null : Int("edges", DefaultEdges), curve,
            Int("resamples", 1000), Int("seed", 0), Str("path_group"), Strs("receivers") ?? ["a7.h11<v>", "a7.h11<q>"],
            c.ContainsKey("ov_head") ? Str("ov_head") : "L7H11", Tokens("ov_tokens") ?? Texts("'re", "'s", " are", " is"),
            Tokens("bigram_sources") ?? Texts(" they", " she", " he", " we"), Tokens("bigram_answers") ?? Texts("'re", " are"));
    }

    /// <summary>
    /// Checks every name and number against the study's groups and the model (layers, heads, vocabulary) before any
    /// model run; returns the groups that get circuits and the path patching group.
    /// </summary>
    public (IReadOnlyList<ResolvedGroup> Circuits, ResolvedGroup PathGroup) Resolve(IReadOnlyList<ResolvedGroup> groups, StudyTarget target)
    {
        List<ResolvedGroup> chosen;
        if (Groups is not null)
        {
            if (Groups.Count == 0) throw new InvalidInputException("circuits.groups is empty: name at least one group, or leave it out to use every group of circuits.experiment");
            chosen = Groups.Select(name => groups.FirstOrDefault(g => g.Name == name) ?? throw new InvalidInputException(
                $"circuits.groups: unknown group '{name}': groups are {string.Join(", ", groups.Select(g => g.Name))}")).ToList();
            if (chosen.Select(g => g.Name).Distinct().Count() != chosen.Count) throw new InvalidInputException("circuits.groups names a group twice: list each group once");
        }
        else
        {
            chosen = groups.Where(g => g.Group.Experiment == Experiment).ToList();
            if (chosen.Count == 0) throw new InvalidInputException($"circuits.experiment {Experiment}: no group belongs to it: set a group's \"experiment\" or list circuits.groups");
        }
        var path = PathGroup is null ? groups.FirstOrDefault(g => g.Group.Experiment == 1) ?? chosen[0]
            : groups.FirstOrDefault(g => g.Name == PathGroup) ?? throw new InvalidInputException(
                $"circuits.path_group: unknown group '{PathGroup}': groups are {string.Join(", ", groups.Select(g => g.Name))}");
        if (target.NHeads < 1) throw new InvalidInputException("circuits: the model's head count is unknown, so circuit node names cannot be checked");
        var graph = new CircuitGraph(target.NLayers, target.NHeads, 1);
        CircuitDiscovery.Validate(graph, new CircuitSearchOptions { Method = Method, IgSteps = Steps, Edges = EdgesFor(graph) });
        if (Curve is not null && (Curve.Count == 0 || Curve.Any(n => n < 1 || n > graph.Edges.Count)))
            throw new InvalidInputException($"circuits.curve must list circuit sizes between 1 and {graph.Edges.Count} (the model's edge count), got [{string.Join(", ", Curve)}]");
        if (Resamples < 100 || Resamples > 100_000) throw new InvalidInputException($"circuits.resamples must be between 100 and 100000, got {Resamples}");
        if (Receivers.Count == 0) throw new InvalidInputException("circuits.receivers is empty: name at least one receiver such as \"a7.h11<v>\"");
        foreach (var r in Receivers)
            try { graph.RequireDownstream(r); }
            catch (InvalidInputException e) { throw new InvalidInputException($"circuits.receivers: {e.Message}"); }
        if (OvHead is not null)
        {
            OvHeadIn(graph);
            if (BigramAnswers.Count != 2) throw new InvalidInputException($"circuits.bigram_answers must be two tokens [correct, wrong], got {BigramAnswers.Count}");
            foreach (var (list, key) in new[] { (OvTokens, "ov_tokens"), (BigramSources, "bigram_sources"), (BigramAnswers, "bigram_answers") })
                foreach (var token in list) SingleToken(token, key, target);
        }
        return (chosen, path);
    }

    /// <summary>The <c>ov_head</c> setting as a head (any name <see cref="HeadId.Parse"/> reads, e.g. "L7H11" or "7.11"),
    /// checked against <paramref name="graph"/>; null when the setting is null.</summary>
    public HeadId? OvHeadIn(CircuitGraph graph)
    {
        if (OvHead is null) return null;
        try { return HeadId.Parse(OvHead).RequireIn(graph.NLayers, graph.NHeads); }
        catch (InvalidInputException e) { throw new InvalidInputException($"circuits.ov_head: {e.Message}"); }
    }

    /// <summary>The id of a one-token text or token id, or a one-line error naming the setting.</summary>
    public static int SingleToken(StudyToken token, string key, StudyTarget target)
    {
        int[] ids;
        if (token.Text is string text)
        {
            var tok = target.Tokenizer ?? throw new InvalidInputException($"circuits.{key}: {token} is text but {target.MissingTokenizer}: give token ids");
            ids = text.Length == 0 ? [] : tok.ToTokens(text, prependBos: false);
        }
        else ids = token.Ids!;
        if (ids.Length != 1) throw new InvalidInputException($"circuits.{key}: {token} is {ids.Length} tokens: every token here must be a single token");
        if (ids[0] < 0 || ids[0] >= target.VocabSize)
            throw new InvalidInputException($"circuits.{key}: token id {ids[0]} is outside the model's vocabulary (0..{target.VocabSize - 1})");
        return ids[0];
    }

    /// <summary>A hash of the settings: a changed block redoes the section.</summary>
    public string Hash() => StudyResults.Hash(JsonSerializer.SerializeToNode(new
    {
        groups = Groups, Experiment, method = MethodName, Steps, Edges, Curve, Resamples, Seed, PathGroup, Receivers, OvHead, ovTokens = Describe(OvTokens),
        bigramSources = Describe(BigramSources), bigramAnswers = Describe(BigramAnswers),
    }));

    private static string[] Describe(IEnumerable<StudyToken> tokens) => tokens.Select(t => t.ToString()).ToArray();
}
