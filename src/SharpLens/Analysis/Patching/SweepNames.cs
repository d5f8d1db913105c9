using SharpLens.Model;

namespace SharpLens.Analysis.Patching;

/// <summary>
/// The one vocabulary of named sweeps, shared by the library, <c>sharplens patch --what</c>, study files, JSON
/// results and figures, and the one place a name becomes a list of <see cref="PatchSite"/>s. Names follow
/// TransformerLens' patching functions (<c>get_act_patch_resid_pre</c>, <c>get_act_patch_attn_head_q_all_pos</c>,
/// <c>get_act_patch_attn_head_v_by_pos</c>, ...): the residual-width activations by name, <c>head_{out,q,k,v,pattern}</c>
/// over all positions, the same with <c>_by_pos</c> one position at a time, and <c>neurons</c> (mlp.hook_post, which
/// TransformerLens has no function for). As in TransformerLens, a head's "out" is its hook_z.
/// </summary>
public static class SweepNames
{
    /// <summary>[n_layers, pos]: one residual-width activation per layer and position.</summary>
    public static readonly IReadOnlyList<string> ByPosition = ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"];
    /// <summary>[n_layers, n_heads]: one head's activation at every position.</summary>
    public static readonly IReadOnlyList<string> Heads = ["head_out", "head_q", "head_k", "head_v", "head_pattern"];
    /// <summary>[n_layers · pos, n_heads], rows "{layer}/{position}" layer-major: one head at one position (pattern:
    /// at one destination position).</summary>
    public static readonly IReadOnlyList<string> HeadsByPosition = Heads.Select(h => h + "_by_pos").ToArray();
    /// <summary>[layers, d_mlp]: one MLP neuron (mlp.hook_post) at every position (or one chosen position).</summary>
    public const string Neurons = "neurons";

    /// <summary>Every canonical name.</summary>
    public static readonly IReadOnlyList<string> All = [.. ByPosition, .. Heads, .. HeadsByPosition, Neurons];

    /// <summary>The canonical form of <paramref name="name"/> (names are case-sensitive, as in TransformerLens); an
    /// unknown name is an <see cref="InvalidInputException"/> listing every sweep.</summary>
    public static string Canonical(string name) => All.Contains(name) ? name
        : throw new InvalidInputException($"unknown patching sweep '{name}': use any of {string.Join(", ", All)}");

    /// <summary>The key a sweep's grid is stored under in results (<c>sharplens patch</c>'s JSON, the explorer's
    /// grids): the sweep's name, and for <see cref="Neurons"/> run one layer at a time, <c>neurons_L{layer}</c>.</summary>
    /// <param name="name">a canonical sweep name</param>
    /// <param name="neuronLayer">the one layer of a <see cref="Neurons"/> sweep, or null for a sweep of several layers</param>
    public static string Key(string name, int? neuronLayer = null) =>
        neuronLayer is int l ? (name == Neurons ? $"{Neurons}_L{l}" : throw new ArgumentException($"only '{Neurons}' is keyed by layer, not '{name}'", nameof(name))) : Canonical(name);

    /// <summary>What a sweep patches, in words for figure titles: "Residual Stream", "Attention Layer", "Head Output",
    /// "Head Value by Position", "Neurons in MLP Layers"...</summary>
    public static string Title(string name)
    {
        name = Canonical(name);
        if (name == Neurons) return "Neurons in MLP Layers";
        string head = name.Replace("_by_pos", "", StringComparison.Ordinal);
        string what = head switch
        {
            "resid_pre" => "Residual Stream", "resid_mid" => "Residual Stream (mid)", "resid_post" => "Residual Stream (post)",
            "attn_out" => "Attention Layer", "mlp_out" => "MLP Layer",
            "head_out" => "Head Output", "head_q" => "Head Query", "head_k" => "Head Key", "head_v" => "Head Value", "head_pattern" => "Head Pattern",
            _ => throw new InvalidOperationException($"sweep '{name}' has no title: give it one here, next to its name"),
        };
        return head == name ? what : what + " by Position";
    }

    /// <summary>The site activation (<see cref="PatchSite.Activation"/>) a head sweep patches: out → z, q, k, v, pattern.</summary>
    public static string HeadActivationName(string sweep)
    {
        string part = sweep["head_".Length..].Replace("_by_pos", "", StringComparison.Ordinal);
        return part == "out" ? "z" : part;
    }

    /// <summary>
    /// The sites of the named sweep, laid out as TransformerLens lays out its result.
    /// </summary>
    /// <param name="name">a canonical name (see <see cref="All"/>)</param>
    /// <param name="config">the model's shape</param>
    /// <param name="positions">[columns] position of each position column (absolute, or negative from the final
    /// token), used by by-position sweeps</param>
    /// <param name="positionLabels">[columns] their labels, e.g. "We_1"</param>
    /// <param name="neuronLayers">layers whose neurons <c>neurons</c> patches (default: every layer)</param>
    /// <param name="neuronPosition">the one position <c>neurons</c> patches (default: every position)</param>
    public static PatchSweep Build(string name, ModelConfig config, IReadOnlyList<int> positions, IReadOnlyList<string> positionLabels,
        IReadOnlyList<int>? neuronLayers = null, int? neuronPosition = null)
    {
        name = Canonical(name);
        if (positions.Count != positionLabels.Count)
            throw new ArgumentException($"{positions.Count} positions but {positionLabels.Count} position labels");
        int L = config.NLayers, H = config.NHeads;
        var layerLabels = Labels(L);
        var sites = new List<PatchSite>();
        if (ByPosition.Contains(name))
        {
            for (int l = 0; l < L; l++)
                foreach (int p in positions) sites.Add(PatchSite.Residual(name, l, p));
            return new PatchSweep(name, layerLabels, positionLabels, sites, "layer", "position");
        }
        if (name == Neurons)
        {
            var layers = neuronLayers ?? Enumerable.Range(0, L).ToArray();
            if (layers.Count == 0) throw new InvalidInputException("no layers given for neuron patching: pass at least one layer");
            foreach (int l in layers)
                if (l < 0 || l >= L) throw new InvalidInputException($"layer {l} does not exist: the model has layers 0..{L - 1}");
            foreach (int l in layers)
                for (int n = 0; n < config.DMlp; n++) sites.Add(PatchSite.Neuron(l, n, neuronPosition));
            return new PatchSweep(name, layers.Select(l => l.ToString()).ToArray(), Labels(config.DMlp), sites, "layer", "neuron");
        }
        string activation = HeadActivationName(name);
        if (activation is "k" or "v") H = config.KeyValueHeads;   // grouped-query attention: hook_k/v have the key/value heads
        if (Heads.Contains(name))
        {
            for (int l = 0; l < L; l++)
                for (int h = 0; h < H; h++) sites.Add(PatchSite.Head(activation, l, h));
            return new PatchSweep(name, layerLabels, Labels(H), sites, "layer", "head");
        }
        var rows = new List<string>();
        for (int l = 0; l < L; l++)
            for (int c = 0; c < positions.Count; c++)
            {
                rows.Add($"{l}/{positionLabels[c]}");
                for (int h = 0; h < H; h++) sites.Add(PatchSite.Head(activation, l, h, positions[c]));
            }
        return new PatchSweep(name, rows, Labels(H), sites, "layer/position", "head");
    }

    private static string[] Labels(int n) => Enumerable.Range(0, n).Select(i => i.ToString()).ToArray();
}
