using SharpLens.Model.Hooks;

namespace SharpLens.Analysis.Patching;

/// <summary>TransformerLens' named patching functions, each a thin list of patches for <see cref="Sweep"/>.</summary>
public sealed partial class ActivationPatcher
{
    private string[] LayerLabels => Enumerable.Range(0, Model.Config.NLayers).Select(l => l.ToString()).ToArray();

    /// <summary>
    /// Patches <paramref name="activation"/> ("resid_pre", "resid_mid", "resid_post", "attn_out" or "mlp_out",
    /// all [batch, pos, d_model]) at one layer and one position per cell.
    /// </summary>
    /// <returns>[n_layers, positions]: rows "0".., cols position labels ("We_1" or "pos_1").</returns>
    public Grid ByPosition(string activation)
    {
        if (!SweepNames.ByPosition.Contains(activation))
            throw new InvalidInputException($"cannot patch '{activation}' by position: use one of {string.Join(", ", SweepNames.ByPosition)}");
        return Run(Sweep(activation));
    }

    /// <summary>TransformerLens get_act_patch_resid_pre: [n_layers, pos].</summary>
    public Grid ResidPreByPosition() => ByPosition("resid_pre");
    /// <summary>get_act_patch_attn_out: [n_layers, pos].</summary>
    public Grid AttnOutByPosition() => ByPosition("attn_out");
    /// <summary>get_act_patch_mlp_out: [n_layers, pos].</summary>
    public Grid MlpOutByPosition() => ByPosition("mlp_out");

    /// <summary>The canonical sweep name of a head activation: "head_out", "head_q", "head_k", "head_v", "head_pattern".</summary>
    public static string HeadSweepName(HeadActivation which) => which switch
    {
        HeadActivation.Output => "head_out",
        HeadActivation.Query => "head_q",
        HeadActivation.Key => "head_k",
        HeadActivation.Value => "head_v",
        _ => "head_pattern",
    };

    /// <summary>Patches one head's <paramref name="which"/> activation at every position
    /// (get_act_patch_attn_head_{out,q,k,v,pattern}_all_pos; sweep "head_out", "head_q", ...).</summary>
    /// <returns>[n_layers, n_heads]: rows layers, cols heads "0".."n-1".</returns>
    public Grid HeadsAllPositions(HeadActivation which) => Run(Sweep(HeadSweepName(which)));

    /// <summary>Patches one head's z/q/k/v at one position (get_act_patch_attn_head_{out,q,k,v}_by_pos), or its attention
    /// pattern at one destination (query) position (get_act_patch_attn_head_pattern_by_pos: the row of where that
    /// position attends); sweep "head_out_by_pos", "head_q_by_pos", ...</summary>
    /// <returns>TransformerLens' [n_layers, pos, n_heads] flattened to rows = layer x position, labelled
    /// "{layer}/{position label}" (layer-major), cols heads.</returns>
    public Grid HeadsByPosition(HeadActivation which) => Run(Sweep(HeadSweepName(which) + "_by_pos"));

    /// <summary>Patches single MLP neurons (mlp.hook_post [batch, pos, d_mlp]) of <paramref name="layers"/>, at every
    /// position or only at <paramref name="position"/> (absolute, or a negative offset from the final token); sweep "neurons".</summary>
    /// <returns>[layers.Count, d_mlp]: rows the layers, cols neuron indices.</returns>
    public Grid Neurons(IReadOnlyList<int> layers, int? position = null)
    {
        if (layers.Count == 0) throw new InvalidInputException("no layers given for neuron patching: pass at least one layer");
        if (position is >= 0 && Options.Alignment == Alignment.End)
            throw new InvalidInputException($"position {position} with Alignment.End: positions count back from the final token, so use -1 for the final token, -2 for the one before, ...");
        return Run(Sweep(SweepNames.Neurons, layers, position));
    }

    /// <summary>
    /// TransformerLens' generic_activation_patch: cell (row, col) patches hook <paramref name="hookName"/>(row, col)
    /// with <paramref name="setter"/>, which sees the whole [prompt, ...] activation of the patched run and of the
    /// source run. Exact mode starts each run at the hook's layer (user patches are not batched).
    /// </summary>
    public Grid Generic(IReadOnlyList<string> rows, IReadOnlyList<string> cols, Func<int, int, string> hookName, PatchSetter setter,
        string name = "generic")
    {
        ArgumentNullException.ThrowIfNull(setter);
        var variants = new List<PatchVariant>();
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < cols.Count; c++)
            {
                string hook = Model.ValidateHookName(hookName(r, c));
                variants.Add(new CustomVariant(r * cols.Count + c, hook, PatchVariant.LayerOf(hook, Model.Config.NLayers), r, c, setter));
            }
        return RunVariants(name, rows, cols, variants, "row", "col");
    }

    /// <summary>Generic patch with rows = layers: cell (layer, col) edits <c>GetActName(activation, layer)</c>.</summary>
    public Grid Generic(string activation, IReadOnlyList<string> cols, PatchSetter setter) =>
        Generic(LayerLabels, cols, (l, _) => HookNames.GetActName(activation, l), setter, activation);
}
