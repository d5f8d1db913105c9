using System.Globalization;
using System.Text.RegularExpressions;
using SharpLens.Analysis.Patching;

namespace SharpLens;

/// <summary>
/// The one syntax for naming attention heads (<see cref="HeadId"/>) and MLP neurons (<see cref="NeuronId"/>): one
/// parser and one formatter, used by every command, study file, JSON result, figure and the explorer.
/// </summary>
/// <remarks>
/// SharpLens writes the canonical names <c>L7H11</c> (layer 7, head 11) and <c>L8N2744</c> (layer 8, neuron 2744),
/// Neuroscope's style. Where users type names it also reads the forms they meet elsewhere:
/// <list type="bullet">
/// <item><c>7.11</c> / <c>8.2744</c>: LAYER.INDEX, as in the interpretability literature ("head 9.9");</item>
/// <item><c>a7.h11</c>: EAP-IG's node name of a head, and <c>a7.h11&lt;v&gt;</c> (<c>&lt;q&gt;</c>, <c>&lt;k&gt;</c>,
/// <c>&lt;v&gt;</c>) for one of its inputs, also after any other head form (<c>L7H11&lt;v&gt;</c>) where an input is asked for;</item>
/// <item><c>blocks.7.attn.hook_z[:, :, 11]</c> / <c>blocks.8.mlp.hook_post[:, :, 2744]</c>: a <see cref="PatchSite"/>
/// name (TransformerLens' hook name and index) of the head's q, k, v, z or pattern, or of the neuron, at every position.</item>
/// </list>
/// Letters are read in either case. A name in none of these forms is one error that lists them; a name outside a
/// model is one error that names the model's sizes (<see cref="HeadId.RequireIn(Model.ModelConfig)"/>). New kinds of
/// component (e.g. grouped-query attention's key/value heads) get a new letter in the same grammar, not a new parser.
/// </remarks>
public static class ComponentNames
{
    /// <summary>The head inputs EAP-IG names with a suffix: query, key and value.</summary>
    public static readonly IReadOnlyList<char> HeadInputs = ['q', 'k', 'v'];

    private const string HeadForms = "write L7H11 (layer 7, head 11); also accepted: 7.11, a7.h11, blocks.7.attn.hook_z[:, :, 11]";
    private const string NeuronForms = "write L8N2744 (layer 8, neuron 2744); also accepted: 8.2744, blocks.8.mlp.hook_post[:, :, 2744]";

    private static readonly Regex Lettered = new(@"^L(?<layer>\d+)(?<kind>H|N)(?<index>\d+)$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
    private static readonly Regex Dotted = new(@"^(?<layer>\d+)\.(?<index>\d+)$", RegexOptions.CultureInvariant);
    private static readonly Regex EapIgHead = new(@"^a(?<layer>\d+)\.h(?<index>\d+)$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
    private static readonly Regex InputSuffix = new(@"<(?<input>[qkv])>$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

    private enum Kind { Head, Neuron }

    /// <summary>The canonical name of a head: <c>L7H11</c>.</summary>
    public static string Format(HeadId head) => string.Create(CultureInfo.InvariantCulture, $"L{head.Layer}H{head.Head}");

    /// <summary>The canonical name of a neuron: <c>L8N2744</c>.</summary>
    public static string Format(NeuronId neuron) => string.Create(CultureInfo.InvariantCulture, $"L{neuron.Layer}N{neuron.Neuron}");

    /// <summary>EAP-IG's node name of a head's output: <c>a7.h11</c>.</summary>
    public static string FormatEapIg(HeadId head) => string.Create(CultureInfo.InvariantCulture, $"a{head.Layer}.h{head.Head}");

    /// <summary>A head in any accepted form; an input suffix (<c>&lt;v&gt;</c>) or anything else is the one bad-name error.</summary>
    public static HeadId ParseHead(string text)
    {
        var (head, input) = ParseHeadInput(text);
        return input is null ? head : throw BadName(text, Kind.Head);
    }

    /// <summary>A head in any accepted form, with the input an EAP-IG suffix names (<c>L7H11&lt;v&gt;</c>,
    /// <c>a7.h11&lt;q&gt;</c>: 'q', 'k' or 'v'), or null when there is none.</summary>
    public static (HeadId Head, char? Input) ParseHeadInput(string text) =>
        TryParseHeadInput(text, out var head, out var input) ? (head, input) : throw BadName(text, Kind.Head);

    /// <summary>True when <paramref name="text"/> names a head in an accepted form (with or without an input suffix).</summary>
    public static bool TryParseHeadInput(string? text, out HeadId head, out char? input)
    {
        head = default; input = null;
        if (text is null) return false;
        string s = text.Trim();
        var suffix = InputSuffix.Match(s);
        if (suffix.Success)
        {
            input = char.ToLowerInvariant(suffix.Groups["input"].Value[0]);
            s = s[..suffix.Index];
        }
        if (TryParse(s, Kind.Head, out int layer, out int index)) { head = new HeadId(layer, index); return true; }
        input = null;
        return false;
    }

    /// <summary>A neuron in any accepted form; anything else is the one bad-name error.</summary>
    public static NeuronId ParseNeuron(string text) =>
        TryParse(text?.Trim(), Kind.Neuron, out int layer, out int index) ? new NeuronId(layer, index) : throw BadName(text, Kind.Neuron);

    /// <summary>True when <paramref name="text"/> names a neuron in an accepted form.</summary>
    public static bool TryParseNeuron(string? text, out NeuronId neuron)
    {
        bool ok = TryParse(text?.Trim(), Kind.Neuron, out int layer, out int index);
        neuron = ok ? new NeuronId(layer, index) : default;
        return ok;
    }

    /// <summary>The names of a comma-separated list, trimmed, empty entries dropped; commas inside brackets (a
    /// TransformerLens index such as <c>[:, :, 11]</c>) do not split.</summary>
    public static IReadOnlyList<string> SplitList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var names = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            char c = i < text.Length ? text[i] : ',';
            if (c == '[') depth++;
            else if (c == ']') depth = Math.Max(0, depth - 1);
            else if (c == ',' && depth == 0)
            {
                string name = text[start..i].Trim();
                if (name.Length > 0) names.Add(name);
                start = i + 1;
            }
        }
        return names;
    }

    /// <summary>The one out-of-range error: "head L12H0 does not exist: gpt2 has 12 layers of 12 heads (L0H0 to
    /// L11H11)". A count ≤ 0 is unknown, and only the layer is checked.</summary>
    internal static void RequireInRange(string what, string name, int layer, int index, int nLayers, int count, string plural,
        string? model, Func<int, int, string> format)
    {
        bool known = count > 0;
        if (layer >= 0 && layer < nLayers && index >= 0 && (!known || index < count)) return;
        string owner = string.IsNullOrEmpty(model) ? "the model" : model;
        throw new InvalidInputException(known
            ? $"{what} {name} does not exist: {owner} has {nLayers} layers of {count} {plural} ({format(0, 0)} to {format(nLayers - 1, count - 1)})"
            : $"{what} {name} does not exist: {owner} has {nLayers} layers (0 to {nLayers - 1})");
    }

    private static bool TryParse(string? s, Kind kind, out int layer, out int index)
    {
        layer = index = -1;
        if (string.IsNullOrEmpty(s)) return false;
        Match m;
        if ((m = Lettered.Match(s)).Success)
        {
            bool isHead = char.ToUpperInvariant(m.Groups["kind"].Value[0]) == 'H';
            if (isHead != (kind == Kind.Head)) return false;
        }
        else if (!(m = Dotted.Match(s)).Success && !(kind == Kind.Head && (m = EapIgHead.Match(s)).Success))
            return s.StartsWith("blocks.", StringComparison.Ordinal) && TryParseSite(s, kind, out layer, out index);
        return int.TryParse(m.Groups["layer"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out layer)
            && int.TryParse(m.Groups["index"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }

    /// <summary>A <see cref="PatchSite"/> name of a head's or neuron's activation at every position.</summary>
    private static bool TryParseSite(string s, Kind kind, out int layer, out int index)
    {
        layer = index = -1;
        PatchSite site;
        try { site = PatchSite.Parse(s); }
        catch (InvalidInputException) { return false; }
        int? component = kind == Kind.Head ? site.HeadIndex : site.NeuronIndex;
        if (component is not int i || site.Position is not null) return false;
        (layer, index) = (site.Layer, i);
        return true;
    }

    private static InvalidInputException BadName(string? text, Kind kind) =>
        new($"'{text}' is not a {(kind == Kind.Head ? "head" : "neuron")} name: {(kind == Kind.Head ? HeadForms : NeuronForms)}");
}
