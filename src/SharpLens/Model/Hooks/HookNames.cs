namespace SharpLens.Model.Hooks;

/// <summary>
/// TransformerLens hook-point names for GPT-2, built once per model, plus <see cref="GetActName"/>,
/// the equivalent of <c>transformer_lens.utils.get_act_name</c>.
/// </summary>
public static class HookNames
{
    public const string Embed = "hook_embed";
    public const string PosEmbed = "hook_pos_embed";
    public const string LnFinalScale = "ln_final.hook_scale";
    public const string LnFinalNormalized = "ln_final.hook_normalized";

    public static string ResidPre(int layer) => $"blocks.{layer}.hook_resid_pre";
    public static string ResidMid(int layer) => $"blocks.{layer}.hook_resid_mid";
    public static string ResidPost(int layer) => $"blocks.{layer}.hook_resid_post";
    public static string AttnOut(int layer) => $"blocks.{layer}.hook_attn_out";
    public static string MlpOut(int layer) => $"blocks.{layer}.hook_mlp_out";
    public static string Ln1Scale(int layer) => $"blocks.{layer}.ln1.hook_scale";
    public static string Ln1Normalized(int layer) => $"blocks.{layer}.ln1.hook_normalized";
    public static string Ln2Scale(int layer) => $"blocks.{layer}.ln2.hook_scale";
    public static string Ln2Normalized(int layer) => $"blocks.{layer}.ln2.hook_normalized";
    public static string Q(int layer) => $"blocks.{layer}.attn.hook_q";
    public static string K(int layer) => $"blocks.{layer}.attn.hook_k";
    public static string V(int layer) => $"blocks.{layer}.attn.hook_v";
    public static string Z(int layer) => $"blocks.{layer}.attn.hook_z";
    public static string AttnScores(int layer) => $"blocks.{layer}.attn.hook_attn_scores";
    public static string Pattern(int layer) => $"blocks.{layer}.attn.hook_pattern";
    public static string Result(int layer) => $"blocks.{layer}.attn.hook_result";
    public static string MlpPre(int layer) => $"blocks.{layer}.mlp.hook_pre";
    public static string MlpPost(int layer) => $"blocks.{layer}.mlp.hook_post";

    /// <summary>Every hook point of an <paramref name="nLayers"/>-layer GPT-2, in the order the forward pass reaches them.</summary>
    public static IReadOnlyList<string> All(int nLayers)
    {
        var names = new List<string> { Embed, PosEmbed };
        for (int l = 0; l < nLayers; l++)
            names.AddRange(
            [
                ResidPre(l), Ln1Scale(l), Ln1Normalized(l), Q(l), K(l), V(l), AttnScores(l), Pattern(l), Z(l),
                Result(l), AttnOut(l), ResidMid(l), Ln2Scale(l), Ln2Normalized(l), MlpPre(l), MlpPost(l), MlpOut(l),
                ResidPost(l),
            ]);
        names.Add(LnFinalScale);
        names.Add(LnFinalNormalized);
        return names;
    }

    private static readonly Dictionary<string, string> ShortNames = new()
    {
        ["embed"] = "hook_embed", ["pos_embed"] = "hook_pos_embed",
        ["resid_pre"] = "hook_resid_pre", ["resid_mid"] = "hook_resid_mid", ["resid_post"] = "hook_resid_post",
        ["attn_out"] = "hook_attn_out", ["mlp_out"] = "hook_mlp_out",
        ["q"] = "attn.hook_q", ["k"] = "attn.hook_k", ["v"] = "attn.hook_v", ["z"] = "attn.hook_z",
        ["result"] = "attn.hook_result", ["attn_scores"] = "attn.hook_attn_scores", ["scores"] = "attn.hook_attn_scores",
        ["pattern"] = "attn.hook_pattern", ["attn"] = "attn.hook_pattern",
        ["pre"] = "mlp.hook_pre", ["post"] = "mlp.hook_post", ["mlp_pre"] = "mlp.hook_pre", ["mlp_post"] = "mlp.hook_post",
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
