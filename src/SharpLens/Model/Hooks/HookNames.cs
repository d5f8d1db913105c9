namespace SharpLens.Model.Hooks;

/// <summary>
/// TransformerLens hook-point names (the one vocabulary every component, engine and analysis uses), plus
/// <see cref="GetActName"/>, the equivalent of <c>transformer_lens.utils.get_act_name</c>. Which hook points a model
/// has, in which order and with which shapes, its components declare (<see cref="HookedTransformer.HookPointNames"/>,
/// <see cref="HookedTransformer.HookShape(string)"/>).
/// </summary>
public static class HookNames
{
    /// <summary>Token embeddings W_E[tokens] [batch, pos, d_model].</summary>
    public const string Embed = "hook_embed";
    /// <summary>Position embeddings W_pos[positions] [batch, pos, d_model].</summary>
    public const string PosEmbed = "hook_pos_embed";
    /// <summary>The final LayerNorm's scale √(mean(x²)+eps) [batch, pos, 1].</summary>
    public const string LnFinalScale = "ln_final.hook_scale";
    /// <summary>The final LayerNorm's output, what the unembedding reads [batch, pos, d_model].</summary>
    public const string LnFinalNormalized = "ln_final.hook_normalized";

    /// <summary>The residual stream entering block <paramref name="layer"/> [batch, pos, d_model].</summary>
    public static string ResidPre(int layer) => $"blocks.{layer}.hook_resid_pre";
    /// <summary>The residual stream after the attention sub-block [batch, pos, d_model].</summary>
    public static string ResidMid(int layer) => $"blocks.{layer}.hook_resid_mid";
    /// <summary>The residual stream leaving block <paramref name="layer"/> [batch, pos, d_model].</summary>
    public static string ResidPost(int layer) => $"blocks.{layer}.hook_resid_post";
    /// <summary>The attention sub-block's output, b_O included [batch, pos, d_model].</summary>
    public static string AttnOut(int layer) => $"blocks.{layer}.hook_attn_out";
    /// <summary>The MLP's output [batch, pos, d_model].</summary>
    public static string MlpOut(int layer) => $"blocks.{layer}.hook_mlp_out";
    /// <summary>The attention LayerNorm's scale [batch, pos, 1].</summary>
    public static string Ln1Scale(int layer) => $"blocks.{layer}.ln1.hook_scale";
    /// <summary>The attention LayerNorm's output [batch, pos, d_model].</summary>
    public static string Ln1Normalized(int layer) => $"blocks.{layer}.ln1.hook_normalized";
    /// <summary>The MLP LayerNorm's scale [batch, pos, 1].</summary>
    public static string Ln2Scale(int layer) => $"blocks.{layer}.ln2.hook_scale";
    /// <summary>The MLP LayerNorm's output [batch, pos, d_model].</summary>
    public static string Ln2Normalized(int layer) => $"blocks.{layer}.ln2.hook_normalized";
    /// <summary>Queries [batch, pos, head_index, d_head].</summary>
    public static string Q(int layer) => $"blocks.{layer}.attn.hook_q";
    /// <summary>Keys [batch, pos, kv_head_index, d_head] (kv_head_index = head_index without grouped-query attention).</summary>
    public static string K(int layer) => $"blocks.{layer}.attn.hook_k";
    /// <summary>Values [batch, pos, kv_head_index, d_head].</summary>
    public static string V(int layer) => $"blocks.{layer}.attn.hook_v";
    /// <summary>Queries after the rotation (rotary models) [batch, pos, head_index, d_head].</summary>
    public static string RotQ(int layer) => $"blocks.{layer}.attn.hook_rot_q";
    /// <summary>Keys after the rotation (rotary models) [batch, pos, kv_head_index, d_head].</summary>
    public static string RotK(int layer) => $"blocks.{layer}.attn.hook_rot_k";
    /// <summary>Each head's attention-weighted values [batch, pos, head_index, d_head].</summary>
    public static string Z(int layer) => $"blocks.{layer}.attn.hook_z";
    /// <summary>Attention scores q·k/√d_head, -inf above the diagonal [batch, head_index, query_pos, key_pos].</summary>
    public static string AttnScores(int layer) => $"blocks.{layer}.attn.hook_attn_scores";
    /// <summary>Attention probabilities [batch, head_index, query_pos, key_pos].</summary>
    public static string Pattern(int layer) => $"blocks.{layer}.attn.hook_pattern";
    /// <summary>Each head's output z·W_O, without b_O [batch, pos, head_index, d_model].</summary>
    public static string Result(int layer) => $"blocks.{layer}.attn.hook_result";
    /// <summary>MLP pre-activations x·W_in + b_in [batch, pos, d_mlp].</summary>
    public static string MlpPre(int layer) => $"blocks.{layer}.mlp.hook_pre";
    /// <summary>A gated MLP's linear branch x·W_in [batch, pos, d_mlp] (its hook_pre is the gate x·W_gate).</summary>
    public static string MlpPreLinear(int layer) => $"blocks.{layer}.mlp.hook_pre_linear";
    /// <summary>MLP activations act(pre) (gated: act(pre)·pre_linear + b_in) [batch, pos, d_mlp].</summary>
    public static string MlpPost(int layer) => $"blocks.{layer}.mlp.hook_post";

    private static readonly Dictionary<string, string> ShortNames = new()
    {
        ["embed"] = "hook_embed", ["pos_embed"] = "hook_pos_embed",
        ["resid_pre"] = "hook_resid_pre", ["resid_mid"] = "hook_resid_mid", ["resid_post"] = "hook_resid_post",
        ["attn_out"] = "hook_attn_out", ["mlp_out"] = "hook_mlp_out",
        ["q"] = "attn.hook_q", ["k"] = "attn.hook_k", ["v"] = "attn.hook_v", ["z"] = "attn.hook_z",
        ["result"] = "attn.hook_result", ["attn_scores"] = "attn.hook_attn_scores", ["scores"] = "attn.hook_attn_scores",
        ["pattern"] = "attn.hook_pattern", ["attn"] = "attn.hook_pattern",
        ["pre"] = "mlp.hook_pre", ["post"] = "mlp.hook_post", ["mlp_pre"] = "mlp.hook_pre", ["mlp_post"] = "mlp.hook_post",
        ["pre_linear"] = "mlp.hook_pre_linear", ["rot_q"] = "attn.hook_rot_q", ["rot_k"] = "attn.hook_rot_k",
        ["scale"] = "hook_scale", ["normalized"] = "hook_normalized",
    };

    /// <summary>
    /// ("resid_pre", 7) -> "blocks.7.hook_resid_pre"; ("pattern", 3) -> "blocks.3.attn.hook_pattern";
    /// ("scale", 2, "ln1") -> "blocks.2.ln1.hook_scale"; ("scale") -> "ln_final.hook_scale"; full names pass through.
    /// </summary>
    public static string GetActName(string name, int? layer = null, string? layerType = null)
    {
        if (name.Contains('.') || name.StartsWith("hook_", StringComparison.Ordinal)) return name;
        if (!ShortNames.TryGetValue(name, out var suffix))
            throw new InvalidInputException($"unknown activation name '{name}': use one of {string.Join(", ", ShortNames.Keys)} or a full hook name");
        if (name is "embed" or "pos_embed") return suffix;
        if (suffix.StartsWith("hook_scale") || suffix.StartsWith("hook_normalized"))
        {
            if (layer is null) return $"ln_final.{suffix}";
            string ln = layerType switch { null or "ln1" or "attn" or "a" => "ln1", "ln2" or "mlp" or "m" => "ln2",
                _ => throw new InvalidInputException($"unknown layer type '{layerType}' for '{name}': use ln1 or ln2") };
            return $"blocks.{layer}.{ln}.{suffix}";
        }
        if (layer is null) throw new InvalidInputException($"activation '{name}' needs a layer, e.g. ({name}, 0)");
        return $"blocks.{layer}.{suffix}";
    }
}
