using System.Globalization;
using System.Text.RegularExpressions;
using SharpLens.Model;
using SharpLens.Model.Hooks;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// Where one patch goes: a hook point (TransformerLens' short activation name and a layer), the component inside it
/// (a head, a neuron or the whole activation) and a position (or every position). The plain, exact and attribution
/// engines all take lists of sites (<see cref="PatchSweep"/>), and every result, CLI argument and study file names a
/// site by <see cref="Name"/>.
/// </summary>
/// <remarks>
/// The canonical name is the hook name followed by the index into the hook's activation without its batch axis,
/// written like ACDC's <c>TorchIndex</c> (the reference for naming nodes of TransformerLens models):
/// <c>blocks.7.attn.hook_v[:, 5, 11]</c> is head 11's value vector at position 5 ([batch, pos, head, d_head]),
/// <c>blocks.7.attn.hook_pattern[:, 11, 5]</c> head 11's attention row of destination (query) position 5
/// ([batch, head, query_pos, key_pos]), <c>blocks.8.mlp.hook_post[:, :, 2744]</c> neuron 2744 at every position,
/// <c>blocks.3.hook_resid_pre[:, 5]</c> the residual stream at position 5, and <c>blocks.3.hook_attn_out</c> the
/// whole activation. A negative position counts back from each prompt's final token (-1 = final), as Python's
/// negative indices do for unpadded prompts (<see cref="Alignment.End"/>).
/// </remarks>
public sealed record PatchSite
{
    /// <summary>Activations a site can patch: TransformerLens' short names (<see cref="HookNames.GetActName"/>).</summary>
    public static readonly IReadOnlyList<string> Activations =
        ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "q", "k", "v", "z", "pattern", "post"];

    /// <summary>A site; prefer the factories <see cref="Residual"/>, <see cref="Head"/> and <see cref="Neuron"/>.</summary>
    /// <param name="activation">one of <see cref="Activations"/></param>
    /// <param name="layer">block index</param>
    /// <param name="head">head index, required for q, k, v, z and pattern, not allowed otherwise</param>
    /// <param name="neuron">neuron index, required for post (mlp.hook_post), not allowed otherwise</param>
    /// <param name="position">token position (query position for pattern), negative = counted back from each
    /// prompt's final token, null = every position</param>
    public PatchSite(string activation, int layer, int? head = null, int? neuron = null, int? position = null)
    {
        if (!Activations.Contains(activation))
            throw new InvalidInputException($"cannot patch activation '{activation}': use one of {string.Join(", ", Activations)}");
        bool perHead = activation is "q" or "k" or "v" or "z" or "pattern";
        if (perHead != head.HasValue)
            throw new InvalidInputException(perHead ? $"a '{activation}' patch site needs a head index" : $"'{activation}' has no heads: drop the head index");
        if ((activation == "post") != neuron.HasValue)
            throw new InvalidInputException(activation == "post" ? "a 'post' (MLP neuron) patch site needs a neuron index" : $"'{activation}' has no neurons: drop the neuron index");
        if (layer < 0) throw new InvalidInputException($"layer {layer} does not exist: layers count from 0");
        if (head < 0 || neuron < 0) throw new InvalidInputException("head and neuron indices count from 0");
        Activation = activation; Layer = layer; HeadIndex = head; NeuronIndex = neuron; Position = position;
    }

    /// <summary>TransformerLens' short activation name: resid_pre, resid_mid, resid_post, attn_out, mlp_out, q, k, v, z,
    /// pattern or post.</summary>
    public string Activation { get; }
    /// <summary>Block index.</summary>
    public int Layer { get; }
    /// <summary>Head index for q, k, v, z and pattern; null otherwise.</summary>
    public int? HeadIndex { get; }
    /// <summary>Neuron index (d_mlp axis of mlp.hook_post) for post; null otherwise.</summary>
    public int? NeuronIndex { get; }
    /// <summary>Patched position (the destination/query position for pattern): absolute when ≥ 0, counted back from
    /// each prompt's final token when negative (-1 = final), every position when null.</summary>
    public int? Position { get; }

    /// <summary>The TransformerLens hook the site edits, e.g. <c>blocks.7.attn.hook_v</c>.</summary>
    public string HookName => HookNames.GetActName(Activation, Layer);

    /// <summary>The canonical name, e.g. <c>blocks.7.attn.hook_v[:, 5, 11]</c> (see the type's remarks).</summary>
    public string Name
    {
        get
        {
            string pos = Position is int p ? p.ToString(CultureInfo.InvariantCulture) : ":";
            string? index = Activation switch
            {
                "pattern" => Position is null ? $"[:, {HeadIndex}]" : $"[:, {HeadIndex}, {pos}]",
                "q" or "k" or "v" or "z" => $"[:, {pos}, {HeadIndex}]",
                "post" => $"[:, {pos}, {NeuronIndex}]",
                _ => Position is null ? null : $"[:, {pos}]",
            };
            return HookName + index;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>A whole residual-width activation (resid_pre/mid/post, attn_out, mlp_out) at one position or all.</summary>
    public static PatchSite Residual(string activation, int layer, int? position = null) => new(activation, layer, position: position);
    /// <summary>One head's q, k, v, z or pattern at one position (query position for pattern) or all.</summary>
    public static PatchSite Head(string activation, int layer, int head, int? position = null) => new(activation, layer, head, position: position);
    /// <summary>One MLP neuron (mlp.hook_post) at one position or all.</summary>
    public static PatchSite Neuron(int layer, int neuron, int? position = null) => new("post", layer, neuron: neuron, position: position);

    /// <summary>Checks the site's layer, head and neuron exist in a model of shape <paramref name="config"/>.</summary>
    public void Validate(ModelConfig config)
    {
        if (Layer >= config.NLayers)
            throw new InvalidInputException($"patch site {Name}: layer {Layer} does not exist, the model has layers 0..{config.NLayers - 1}");
        int heads = Activation is "k" or "v" ? config.KeyValueHeads : config.NHeads;   // hook_k/v have the key/value heads
        if (HeadIndex >= heads)
            throw new InvalidInputException($"patch site {Name}: head {HeadIndex} does not exist, the model has {(heads < config.NHeads ? "key/value " : "")}heads 0..{heads - 1}");
        if (NeuronIndex >= config.DMlp)
            throw new InvalidInputException($"patch site {Name}: neuron {NeuronIndex} does not exist, the model has neurons 0..{config.DMlp - 1}");
    }

    private static readonly Regex Pattern = new(
        @"^blocks\.(?<layer>\d+)\.(?<hook>hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|attn\.hook_[qkvz]|attn\.hook_pattern|mlp\.hook_post)(\[(?<index>[^\]]*)\])?$",
        RegexOptions.CultureInvariant);

    /// <summary>Reads a canonical name (<see cref="Name"/>); the inverse of <see cref="Name"/>.</summary>
    public static PatchSite Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var m = Pattern.Match(name.Trim());
        const string Examples = "e.g. blocks.7.attn.hook_v[:, 5, 11], blocks.8.mlp.hook_post[:, :, 2744] or blocks.3.hook_resid_pre[:, -1]";
        if (!m.Success) throw new InvalidInputException($"'{name}' is not a patch site name: write a hook name and an index, {Examples}");
        int layer = int.Parse(m.Groups["layer"].Value, CultureInfo.InvariantCulture);
        string hook = m.Groups["hook"].Value;
        string activation = hook[(hook.LastIndexOf("hook_", StringComparison.Ordinal) + 5)..];
        var parts = m.Groups["index"].Success ? m.Groups["index"].Value.Split(',').Select(s => s.Trim()).ToArray() : [];
        int? Part(int i)
        {
            if (i >= parts.Length || parts[i] == ":") return null;
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v))
                throw new InvalidInputException($"'{name}': index '{parts[i]}' must be a whole number or ':' ({Examples})");
            return v;
        }
        int expected = activation switch { "pattern" or "q" or "k" or "v" or "z" or "post" => 3, _ => 2 };
        if (parts.Length > expected || (parts.Length > 0 && parts[0] != ":"))
            throw new InvalidInputException($"'{name}': the index has the batch axis first (always ':') and at most {expected} entries ({Examples})");
        return activation switch
        {
            "pattern" => Head("pattern", layer, Part(1) ?? throw new InvalidInputException($"'{name}' needs a head: blocks.L.attn.hook_pattern[:, head]"), Part(2)),
            "q" or "k" or "v" or "z" => Head(activation, layer, Part(2) ?? throw new InvalidInputException($"'{name}' needs a head: blocks.L.attn.hook_{activation}[:, pos or :, head]"), Part(1)),
            "post" => Neuron(layer, Part(2) ?? throw new InvalidInputException($"'{name}' needs a neuron: blocks.L.mlp.hook_post[:, pos or :, neuron]"), Part(1)),
            _ => Residual(activation, layer, Part(1)),
        };
    }
}
