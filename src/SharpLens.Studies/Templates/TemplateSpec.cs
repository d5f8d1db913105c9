using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SharpLens.Studies.Templates;

/// <summary>
/// A contraction and its full form, e.g. "'ll" / " will", the pronouns that start the first clause ("I", "We") and the
/// second pronouns each get a group for ("they" -> group "ll_they"). <see cref="VerbForm"/> is the verb form that follows
/// (ing after 'm/'re/'s, pp after 've, base after 'll/'d).
/// </summary>
public sealed record ContractionSpec(string Name, string Contraction, string Full, string VerbForm,
    IReadOnlyList<string> Pronouns, IReadOnlyList<string> SecondPronouns);

/// <summary>A verb in its three forms (base "help", ing "helping", pp "helped") and the objects that go naturally with it.</summary>
public sealed record VerbSpec(IReadOnlyDictionary<string, string> Forms, IReadOnlyList<string> Objects);

/// <summary>
/// A template spec (studies/templates/contractions-templates.json): contractions, sentence templates with slots and a small list
/// of fillers. <see cref="StudyGenerator"/> expands it into a <see cref="Study"/> with one group per contraction x second pronoun.
/// Slots: {Pronoun} (capitalised), {pronoun}, {contraction} (the contraction, or the full form in the full-form twin),
/// {verb} (the contraction's verb form), {verb_base}, {verb_ing}, {verb_pp}, {object}, {connective}, {pronoun2}.
/// </summary>
public sealed record TemplateSpec
{
    internal static readonly string[] VerbForms = ["base", "ing", "pp"];
    internal static readonly string[] Slots = ["Pronoun", "pronoun", "contraction", "verb", "verb_base", "verb_ing", "verb_pp", "object", "connective", "pronoun2"];

    /// <summary>Study-level keys copied into the generated study file (name, title, description, model, prepend_bos, questions, comparisons, claims).</summary>
    public required JsonObject Study { get; init; }
    /// <summary>Group keys every generated group gets (analyses, patching, neuron_layers, top_k ...).</summary>
    public required JsonObject GroupDefaults { get; init; }
    /// <summary>The contractions to generate groups for ("'ll" / " will", with the verb form each takes).</summary>
    public required IReadOnlyList<ContractionSpec> Contractions { get; init; }
    /// <summary>Prompt templates with {slot} placeholders (see the type's remarks for the slots).</summary>
    public required IReadOnlyList<string> Templates { get; init; }
    /// <summary>Verbs with their base, -ing and past-participle forms and the objects they take.</summary>
    public required IReadOnlyList<VerbSpec> Verbs { get; init; }
    /// <summary>Words joining the two clauses ("and", "because" ...).</summary>
    public required IReadOnlyList<string> Connectives { get; init; }
    /// <summary>Seed of the deterministic shuffle of each group's candidate pairs.</summary>
    public int Seed { get; init; }

    /// <summary>The generated study's name ("generated" when the spec names none).</summary>
    public string Name => Study["name"]?.ToString() ?? "generated";
    /// <summary>Whether generated prompts get BOS first (the spec's prepend_bos; null = the tokenizer's default,
    /// TransformerLens' default_prepend_bos).</summary>
    public bool? PrependBos => Study["prepend_bos"] is JsonValue v && v.TryGetValue(out bool b) ? b : null;

    /// <summary>Reads a template spec file; a missing file is an <see cref="InvalidInputException"/>.</summary>
    public static TemplateSpec Load(string path)
    {
        return Parse(InputFiles.ReadText(path, "template spec"), Path.GetFileName(path));
    }

    /// <summary>Parses a template spec's JSON; every problem is a one-line <see cref="InvalidInputException"/> naming <paramref name="source"/>.</summary>
    public static TemplateSpec Parse(string json, string source = "templates")
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json, documentOptions: InputFiles.DocumentOptions(lenient: true)); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: malformed JSON: {InputFiles.JsonError(e)}"); }
        InvalidInputException Error(string m) => new($"{source}: {m}");
        if (root is not JsonObject obj) throw Error("the top level must be an object with \"contractions\", \"templates\", \"verbs\" and \"connectives\"");

        List<string> Strs(JsonNode? n, string where, bool required = true)
        {
            if (n is null && !required) return [];
            if (n is not JsonArray a || (required && a.Count == 0)) throw Error($"\"{where}\" must be a non-empty list of strings");
            return a.Select((x, i) => x is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.ToString() : throw Error($"{where}[{i}] must be a string")).ToList();
        }
        string Str(JsonObject o, string key, string where) => o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.ToString()
            : throw Error($"{where}: \"{key}\" must be a string");

        if (obj["contractions"] is not JsonArray ca || ca.Count == 0) throw Error("\"contractions\" must be a non-empty list of {contraction, full, verb, pronouns, second_pronouns}");
        var contractions = new List<ContractionSpec>();
        for (int i = 0; i < ca.Count; i++)
        {
            string where = $"contractions[{i}]";
            if (ca[i] is not JsonObject c) throw Error($"{where} must be an object");
            string contraction = Str(c, "contraction", where), full = Str(c, "full", where);
            string name = c["name"] is JsonNode nn ? nn.ToString() : new string(contraction.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();
            if (name.Length == 0) throw Error($"{where}: give a \"name\" (used in group names such as \"{{name}}_they\")");
            string form = c["verb"]?.ToString() ?? "ing";
            if (!VerbForms.Contains(form)) throw Error($"{where}: \"verb\" must be one of {string.Join(", ", VerbForms)}, not '{form}'");
            var pronouns = Strs(c["pronouns"], $"{where}.pronouns");
            var second = c["second_pronouns"] is JsonNode sp ? Strs(sp, $"{where}.second_pronouns") : pronouns.Select(Lower).ToList();
            contractions.Add(new ContractionSpec(name, contraction, full, form, pronouns, second));
        }
        foreach (var dup in contractions.GroupBy(c => c.Name).Where(g => g.Count() > 1))
            throw Error($"contraction name '{dup.Key}' appears twice: give each a unique \"name\"");

        var templates = Strs(obj["templates"], "templates");
        foreach (var t in templates)
        {
            foreach (Match m in Regex.Matches(t, @"\{([^{}]*)\}"))
                if (!Slots.Contains(m.Groups[1].Value))
                    throw Error($"template \"{t}\": unknown slot {{{m.Groups[1].Value}}}: known slots are {string.Join(", ", Slots.Select(s => "{" + s + "}"))}");
            if (!t.Contains("{contraction}")) throw Error($"template \"{t}\" has no {{contraction}} slot: the pair differs only there");
            if (!t.EndsWith("{pronoun2}", StringComparison.Ordinal)) throw Error($"template \"{t}\" must end with {{pronoun2}}: the answer is predicted right after it");
        }

        var globalObjects = Strs(obj["objects"], "objects", required: false);
        if (obj["verbs"] is not JsonArray va || va.Count == 0) throw Error("\"verbs\" must be a non-empty list of {base, ing, pp, objects}");
        var verbs = new List<VerbSpec>();
        for (int i = 0; i < va.Count; i++)
        {
            string where = $"verbs[{i}]";
            if (va[i] is not JsonObject v) throw Error($"{where} must be an object with base, ing, pp (and objects)");
            var forms = VerbForms.ToDictionary(f => f, f => Str(v, f, where));
            var objects = v["objects"] is JsonNode on ? Strs(on, $"{where}.objects") : globalObjects;
            if (objects.Count == 0 && templates.Any(t => t.Contains("{object}")))
                throw Error($"{where} has no \"objects\" and there is no top-level \"objects\" list: the templates use {{object}}");
            verbs.Add(new VerbSpec(forms, objects.Count == 0 ? [""] : objects));
        }
        var connectives = templates.Any(t => t.Contains("{connective}")) ? Strs(obj["connectives"], "connectives") : Strs(obj["connectives"], "connectives", required: false);

        var study = obj["study"] as JsonObject ?? new JsonObject();
        var defaults = obj["group_defaults"] as JsonObject ?? new JsonObject();
        int seed = obj["seed"] is JsonValue sv && sv.TryGetValue(out int s) ? s : 0;
        return new TemplateSpec
        {
            Study = (JsonObject)study.DeepClone(), GroupDefaults = (JsonObject)defaults.DeepClone(), Contractions = contractions,
            Templates = templates, Verbs = verbs, Connectives = connectives.Count == 0 ? [""] : connectives, Seed = seed,
        };
    }

    /// <summary>"They" -> "they"; "I" stays "I".</summary>
    internal static string Lower(string pronoun) => pronoun == "I" || pronoun.Length == 0 ? pronoun : char.ToLowerInvariant(pronoun[0]) + pronoun[1..];

    /// <summary>"they" -> "They".</summary>
    internal static string Upper(string pronoun) => pronoun.Length == 0 ? pronoun : char.ToUpperInvariant(pronoun[0]) + pronoun[1..];
}
