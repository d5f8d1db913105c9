using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SharpLens.Studies;

/// <summary>A prompt or answer as written in a study file: text (tokenized with the GPT-2 tokenizer) or token ids.</summary>
public sealed record StudyToken(string? Text, int[]? Ids)
{
    /// <summary>As written in a study file: the text JSON-quoted, or the ids as a list.</summary>
    public override string ToString() => Text is not null ? JsonSerializer.Serialize(Text) : $"[{string.Join(", ", Ids!)}]";
}

/// <summary>A statement of the original study, checked against a run's numbers (see <see cref="Findings"/>).</summary>
public sealed record StudyClaim(string Text, string Group, string Kind, IReadOnlyList<string> Expect)
{
    /// <summary>head_rank: the 1-based rank by direct logit attribution that <see cref="Expect"/>'s head must have.</summary>
    public int? Rank { get; init; }
}

/// <summary>A prompt run through TransformerLens' <c>test_prompt</c>: the answer's rank, logit and probability and the top-k tokens.</summary>
public sealed record StudyTestPrompt(StudyToken Prompt, StudyToken Answer);

/// <summary>Settings of the cross-group comparison (experiment 2).</summary>
public sealed record ComparisonSettings
{
    /// <summary>Analyses compared across groups: head_attribution, layer_attribution, logit_lens, resid_pre, attn_out, mlp_out ...</summary>
    public IReadOnlyList<string> Figures { get; init; } = ["head_attribution", "layer_attribution", "resid_pre", "attn_out", "mlp_out"];
    /// <summary>The study's question: are differences smaller than this real?</summary>
    public double Threshold { get; init; } = 0.2;
    /// <summary>Significance level of the Holm-adjusted permutation p-values.</summary>
    public double Alpha { get; init; } = 0.05;
    /// <summary>Random permutations per permutation test.</summary>
    public int Permutations { get; init; } = 5000;
    /// <summary>Bootstrap resamples per confidence interval.</summary>
    public int Resamples { get; init; } = 2000;
    /// <summary>Seed of the permutations and resamples, so a run repeats exactly.</summary>
    public int Seed { get; init; }
}

/// <summary>One group of a study: prompts, answers, corrupted prompts and the analyses to run on them.</summary>
public sealed record StudyGroup
{
    /// <summary>The group's unique name, used in results.json keys and figure ids (e.g. "ll_they").</summary>
    public required string Name { get; init; }
    /// <summary>Heading shown in the report (the name when null).</summary>
    public string? Title { get; init; }
    /// <summary>Which experiment of the original study the group belongs to (1 or 2), shown in its report heading.</summary>
    public int? Experiment { get; init; }
    /// <summary>The clean prompts.</summary>
    public required IReadOnlyList<StudyToken> Prompts { get; init; }
    /// <summary>(correct, wrong) per prompt.</summary>
    public required IReadOnlyList<(StudyToken Correct, StudyToken Wrong)> Answers { get; init; }
    /// <summary>Explicit corrupted prompts, or null = swap pairs (0&lt;-&gt;1, 2&lt;-&gt;3, ...) keeping the clean answers.</summary>
    public IReadOnlyList<StudyToken>? Corrupted { get; init; }
    /// <summary>Analyses to run on the group, names from <see cref="StudyAnalyses"/>.</summary>
    public required IReadOnlyList<string> Analyses { get; init; }
    /// <summary>Patching sweeps of the "patching" analysis.</summary>
    public required IReadOnlyList<string> Patching { get; init; }
    /// <summary>Layers whose MLP neurons are patched one by one by the "neuron_patching" analysis.</summary>
    public required IReadOnlyList<int> NeuronLayers { get; init; }
    /// <summary>How many neurons (by |patching effect|) get text views and direct effects.</summary>
    public int TopNeurons { get; init; } = 3;
    /// <summary>Top-k predictions per prompt in the model check.</summary>
    public int TopK { get; init; } = 10;
    /// <summary>Attribution patching: how many top candidates (neurons and heads each) are then patched exactly.</summary>
    public int Candidates { get; init; } = 10;
    /// <summary>Neurons named by the study ("L8N2744"): their activations at every position are always computed.</summary>
    public IReadOnlyList<string> Neurons { get; init; } = [];
    /// <summary>Prompts checked like TransformerLens' test_prompt (rank, logit and probability of the answer; top-k).</summary>
    public IReadOnlyList<StudyTestPrompt> TestPrompts { get; init; } = [];
    /// <summary>Whether the group runs <paramref name="analysis"/>.</summary>
    public bool Has(string analysis) => Analyses.Contains(analysis);
}

/// <summary>
/// A study file (JSON or YAML): named groups of prompts with answers, how to corrupt them, which analyses to run,
/// the cross-group comparison and the original study's claims. See studies/contractions.json and docs in
/// <see cref="StudyFile"/>.
/// </summary>
public sealed record Study
{
    /// <summary>The study's name (results.json "study").</summary>
    public required string Name { get; init; }
    /// <summary>Title of the report (the name when null).</summary>
    public string? Title { get; init; }
    /// <summary>Introductory text shown at the top of the report.</summary>
    public string? Description { get; init; }
    /// <summary>The model the study was written for (e.g. "gpt2"), for the reader; the run uses the model it is given.</summary>
    public string? Model { get; init; }
    /// <summary>Whether text prompts get the BOS token first (TransformerLens' prepend_bos); null = the model's
    /// tokenizer's default (TransformerLens' default_prepend_bos: true except for tokenizers without BOS, e.g. Qwen).</summary>
    public bool? PrependBos { get; init; }
    /// <summary>The questions the study asks, listed at the top of the report.</summary>
    public IReadOnlyList<string> Questions { get; init; } = [];
    /// <summary>The groups, in the order they run.</summary>
    public required IReadOnlyList<StudyGroup> Groups { get; init; }
    /// <summary>Settings of the cross-group comparison.</summary>
    public ComparisonSettings Comparisons { get; init; } = new();
    /// <summary>The original study's claims, each checked against the run's numbers in the report.</summary>
    public IReadOnlyList<StudyClaim> Claims { get; init; } = [];
    /// <summary>The circuits section's settings (the file's <c>"circuits"</c> block), or null when the study has none.</summary>
    public CircuitsSettings? Circuits { get; init; }
    /// <summary>The study file's text, normalised to JSON (stored in results.json).</summary>
    public JsonNode? Source { get; init; }

    /// <summary>The group named <paramref name="name"/>; an unknown name is an <see cref="InvalidInputException"/> listing the groups.</summary>
    public StudyGroup Group(string name) => Groups.FirstOrDefault(g => g.Name == name)
        ?? throw new InvalidInputException($"study '{Name}' has no group '{name}': groups are {string.Join(", ", Groups.Select(g => g.Name))}");

    /// <summary>The groups that run the "comparisons" analysis, compared pairwise.</summary>
    public IReadOnlyList<StudyGroup> ComparedGroups => Groups.Where(g => g.Has(StudyAnalyses.Comparisons)).ToList();
}

/// <summary>Names of the analyses a study can ask for.</summary>
public static class StudyAnalyses
{
    /// <summary>The analysis names as written in study files (model_check, logit_lens, ..., comparisons).</summary>
    public const string ModelCheck = "model_check", LogitLens = "logit_lens", LayerAttribution = "layer_attribution",
        HeadAttribution = "head_attribution", AttentionPatterns = "attention_patterns", Patching = "patching",
        NeuronPatching = "neuron_patching", AttributionPatching = "attribution_patching", Comparisons = "comparisons";

    /// <summary>Every known analysis, in the order they run.</summary>
    public static readonly string[] All = [ModelCheck, LogitLens, LayerAttribution, HeadAttribution, AttentionPatterns,
        Patching, NeuronPatching, AttributionPatching, Comparisons];

    /// <summary>The kinds of claim a study file may state (top_positive_head, head_rank, value_over_pattern ...).</summary>
    public static readonly string[] ClaimKinds = ["top_positive_head", "top_negative_head", "top_layer", "top_components",
        "top_patching_head", "head_rank", "value_over_pattern", "top_neurons", "clean_logit_diff_positive"];
}

/// <summary>Reads study files. JSON and YAML (same structure) are accepted; problems are one-line <see cref="InvalidInputException"/>s.</summary>
public static class StudyFile
{
    /// <summary>Reads the study file at <paramref name="path"/>: YAML for .yaml/.yml, else JSON.</summary>
    public static Study Load(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        string text = InputFiles.ReadText(path, "study file");
        return ext is ".yaml" or ".yml" ? ParseYaml(text, Path.GetFileName(path)) : ParseJson(text, Path.GetFileName(path));
    }

    /// <summary>Parses a JSON study (comments and trailing commas allowed); <paramref name="source"/> names it in errors.</summary>
    public static Study ParseJson(string json, string source = "study")
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json, documentOptions: InputFiles.DocumentOptions(lenient: true)); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: malformed JSON: {InputFiles.JsonError(e)}"); }
        return FromNode(root, source);
    }

    /// <summary>Parses a YAML study with the same structure as the JSON form; <paramref name="source"/> names it in errors.</summary>
    public static Study ParseYaml(string yaml, string source = "study")
    {
        // The YAML parser and the conversion below recurse per level: bound the nesting as JSON readers do (64).
        int depth = 0, deepest = 0;
        foreach (char c in yaml)
            if (c is '[' or '{') deepest = Math.Max(deepest, ++depth);
            else if (c is ']' or '}') depth--;
        if (deepest > MaxYamlDepth) throw new InvalidInputException($"{source}: YAML nested {deepest} levels deep: a study file needs a few levels");
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e) { throw new InvalidInputException($"{source}: malformed YAML at line {e.Start.Line}: {e.Message.Split('\n')[0]}"); }
        catch (InvalidOperationException e) { throw new InvalidInputException($"{source}: malformed YAML: {e.Message.Split('\n')[0]}"); }
        if (stream.Documents.Count == 0) throw new InvalidInputException($"{source}: the YAML file is empty");
        // Round-trip through JSON text so every value is backed by a JsonElement, exactly as for JSON files.
        return FromNode(JsonNode.Parse(ToJson(stream.Documents[0].RootNode, source)?.ToJsonString() ?? "null"), source);
    }

    private const int MaxYamlDepth = 64;

    /// <summary>YAML to JSON: plain scalars that look like integers, numbers, booleans or null become those; quoted ones
    /// stay strings. A key that is not a plain value, a key given twice or nesting beyond 64 levels is an error.</summary>
    internal static JsonNode? ToJson(YamlNode node, string source = "study", int depth = 0)
    {
        if (depth > MaxYamlDepth) throw new InvalidInputException($"{source}: YAML nested more than {MaxYamlDepth} levels deep");
        switch (node)
        {
            case YamlMappingNode m:
                var o = new JsonObject();
                foreach (var (key, value) in m.Children)
                {
                    string name = key is YamlScalarNode k ? k.Value ?? ""
                        : throw new InvalidInputException($"{source}: YAML line {key.Start.Line}: a key must be a plain name, not a list or mapping");
                    if (o.ContainsKey(name)) throw new InvalidInputException($"{source}: YAML line {key.Start.Line}: key '{name}' is given twice");
                    o[name] = ToJson(value, source, depth + 1);
                }
                return o;
            case YamlSequenceNode s:
                return new JsonArray(s.Children.Select(c => ToJson(c, source, depth + 1)).ToArray());
            case YamlScalarNode sc:
                return Scalar(sc);
            default:
                return null;
        }
    }

    private static JsonNode? Scalar(YamlScalarNode sc)
    {
        string v = sc.Value ?? "";
        if (sc.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded) return JsonValue.Create(v);
        if (v is "" or "~" or "null" or "Null" or "NULL") return null;
        if (v is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (v is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
        // "1e999" parses as infinity, which JSON cannot hold: beyond double's range it stays text (and fails where a number belongs).
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return JsonValue.Create(d);
        return JsonValue.Create(v);
    }

    /// <summary>Reads a study from parsed JSON.</summary>
    public static Study FromNode(JsonNode? root, string source = "study") => new Reader(source).Read(root);

    private sealed class Reader(string source)
    {
        private InvalidInputException Error(string message) => new($"{source}: {message}");

        public Study Read(JsonNode? root)
        {
            if (root is not JsonObject obj) throw Error("the top level must be an object with \"name\" and \"groups\"");
            string name = Str(obj, "name", null) ?? Path.GetFileNameWithoutExtension(source);
            var defaults = obj["defaults"] as JsonObject ?? new JsonObject();
            if (obj["groups"] is not JsonObject groupsNode || groupsNode.Count == 0)
                throw Error("\"groups\" must be a non-empty object of named groups, e.g. {\"re_they\": {\"prompts\": [...], \"answers\": [...]}}");
            var groups = groupsNode.Select(kv => Group(kv.Key, kv.Value, defaults)).ToList();
            var comparisons = new ComparisonSettings();
            if (obj["comparisons"] is JsonObject c)
                comparisons = new ComparisonSettings
                {
                    Figures = c["figures"] is JsonNode f ? StrList(f, "comparisons.figures") : comparisons.Figures,
                    Threshold = Num(c, "threshold", comparisons.Threshold, "comparisons"),
                    Alpha = Num(c, "alpha", comparisons.Alpha, "comparisons"),
                    Permutations = (int)Num(c, "permutations", comparisons.Permutations, "comparisons"),
                    Resamples = (int)Num(c, "resamples", comparisons.Resamples, "comparisons"),
                    Seed = (int)Num(c, "seed", comparisons.Seed, "comparisons"),
                };
            var claims = new List<StudyClaim>();
            if (obj["claims"] is JsonArray ca)
                for (int i = 0; i < ca.Count; i++)
                {
                    if (ca[i] is not JsonObject co) throw Error($"claims[{i}] must be an object with text, group, kind, expect");
                    var expect = co["expect"] is JsonArray ea ? StrList(ea, $"claims[{i}].expect") : co["expect"] is JsonNode en ? [en.ToString()] : [];
                    claims.Add(new StudyClaim(Str(co, "text", $"claims[{i}]") ?? "", Str(co, "group", $"claims[{i}]") ?? "", Str(co, "kind", $"claims[{i}]") ?? "", expect)
                    {
                        Rank = co["rank"] is JsonNode rn ? (int)NumOr(rn, 0, $"claims[{i}].rank") : null,
                    });
                }
            CircuitsSettings? circuits = obj["circuits"] switch
            {
                null => null,
                JsonObject co => CircuitsSettings.Parse(co, source),
                var other => throw Error($"\"circuits\" must be an object of settings, e.g. {{\"edges\": 200}}, not {other.ToJsonString()}"),
            };
            return new Study
            {
                Name = name, Title = Str(obj, "title", null), Description = Str(obj, "description", null), Model = Str(obj, "model", null),
                PrependBos = obj["prepend_bos"] is JsonValue pb ? pb.GetValue<bool>() : null,
                Questions = obj["questions"] is JsonNode q ? StrList(q, "questions") : [],
                Groups = groups, Comparisons = comparisons, Claims = claims, Circuits = circuits, Source = obj.DeepClone(),
            };
        }

        private StudyGroup Group(string name, JsonNode? node, JsonObject defaults)
        {
            string where = $"group '{name}'";
            if (node is not JsonObject g) throw Error($"{where} must be an object with \"prompts\" and \"answers\"");
            JsonNode? Get(string key) => g[key] ?? defaults[key];
            if (g["prompts"] is not JsonArray prompts) throw Error($"{where}: \"prompts\" is missing: give a list of prompts (strings or token-id lists)");
            var ps = prompts.Select((p, i) => Token(p, $"{where}, prompt {i}")).ToList();
            if (g["answers"] is not JsonArray answers) throw Error($"{where}: \"answers\" is missing: give one [correct, wrong] pair per prompt");
            var ans = new List<(StudyToken, StudyToken)>();
            for (int i = 0; i < answers.Count; i++)
            {
                if (answers[i] is not JsonArray pair || pair.Count != 2) throw Error($"{where}, prompt {i}: the answer must be a pair [correct, wrong]");
                ans.Add((Token(pair[0], $"{where}, prompt {i}, answer 0"), Token(pair[1], $"{where}, prompt {i}, answer 1")));
            }
            IReadOnlyList<StudyToken>? corrupted = null;
            var corr = g["corrupted"];
            if (corr is JsonArray ca) corrupted = ca.Select((p, i) => Token(p, $"{where}, corrupted prompt {i}")).ToList();
            else if (corr is not null && !(corr is JsonValue cv && cv.GetValueKind() == JsonValueKind.String && cv.ToString() == "swap_pairs"))
                throw Error($"{where}: \"corrupted\" must be a list of prompts or \"swap_pairs\", not {corr.ToJsonString()}");
            var patching = Get("patching") is JsonNode pn ? StrList(pn, $"{where}.patching") : ["resid_pre", "attn_out", "mlp_out", "head_out", "head_v", "head_pattern"];
            var layers = Get("neuron_layers") is JsonArray la
                ? la.Select((l, i) => l is JsonValue lv && lv.TryGetValue(out int li) ? li : throw Error($"{where}: neuron_layers[{i}] must be an integer layer, not {l?.ToJsonString() ?? "null"}")).ToList()
                : [];
            // Without "analyses": everything of one group (neuron patching when neuron_layers are given).
            var analyses = Get("analyses") is JsonNode an ? StrList(an, $"{where}.analyses")
                : StudyAnalyses.All.Where(a => a is not (StudyAnalyses.AttributionPatching or StudyAnalyses.Comparisons) && (a != StudyAnalyses.NeuronPatching || layers.Count > 0)).ToList();
            return new StudyGroup
            {
                Name = name, Title = g["title"]?.ToString(),
                Experiment = g["experiment"] is JsonValue ev && ev.TryGetValue(out int e) ? e : null,
                Prompts = ps, Answers = ans, Corrupted = corrupted, Analyses = analyses, Patching = patching, NeuronLayers = layers,
                TopNeurons = (int)NumOr(Get("top_neurons"), 3, $"{where}.top_neurons"),
                TopK = (int)NumOr(Get("top_k"), 10, $"{where}.top_k"),
                Candidates = (int)NumOr(Get("candidates"), 10, $"{where}.candidates"),
                Neurons = g["neurons"] is JsonNode nn ? StrList(nn, $"{where}.neurons") : [],
                TestPrompts = TestPrompts(g["test_prompts"], where),
            };
        }

        private List<StudyTestPrompt> TestPrompts(JsonNode? node, string where)
        {
            if (node is null) return [];
            if (node is not JsonArray a) throw Error($"{where}.test_prompts must be a list of {{\"prompt\", \"answer\"}} objects");
            return a.Select((t, i) => t is JsonObject o && o["prompt"] is JsonNode p && o["answer"] is JsonNode ans
                ? new StudyTestPrompt(Token(p, $"{where}, test prompt {i}"), Token(ans, $"{where}, test prompt {i}, answer"))
                : throw Error($"{where}.test_prompts[{i}] must be an object with \"prompt\" and \"answer\"")).ToList();
        }

        private StudyToken Token(JsonNode? n, string where) => n switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.String => new StudyToken(v.ToString(), null),
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => new StudyToken(null, [Int(v, where)]),
            JsonArray a => new StudyToken(null, a.Select((x, j) => x is JsonValue xv && xv.GetValueKind() == JsonValueKind.Number ? Int(xv, $"{where}[{j}]")
                : throw Error($"{where}[{j}] must be an integer token id, not {x?.ToJsonString() ?? "null"}")).ToArray()),
            _ => throw Error($"{where} must be text or token ids, not {n?.ToJsonString() ?? "null"}"),
        };

        private int Int(JsonValue v, string where) => v.TryGetValue(out int i) ? i
            : v.TryGetValue(out long l) && l is >= int.MinValue and <= int.MaxValue ? (int)l
            : throw Error($"{where} must be an integer token id, not {v.ToJsonString()}");

        private string? Str(JsonObject o, string key, string? where) => o[key] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.ToString(),
            var other => throw Error($"{(where is null ? "" : where + ".")}{key} must be a string, not {other.ToJsonString()}"),
        };

        private List<string> StrList(JsonNode n, string where) => n is JsonArray a
            ? a.Select((x, i) => x is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.ToString() : throw Error($"{where}[{i}] must be a string")).ToList()
            : throw Error($"{where} must be a list of strings, not {n.ToJsonString()}");

        private double Num(JsonObject o, string key, double fallback, string where) => NumOr(o[key], fallback, $"{where}.{key}");

        private double NumOr(JsonNode? n, double fallback, string where) => n switch
        {
            null => fallback,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
            _ => throw Error($"{where} must be a number, not {n.ToJsonString()}"),
        };
    }
}
