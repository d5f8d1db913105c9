using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLens.Families.Gpt2;
using SharpLens.Model;

namespace SharpLens.Training;

/// <summary>
/// The architecture of a model to train: a TransformerLens <c>HookedTransformerConfig</c> dict read by
/// <see cref="ModelConfigJson"/> (TransformerLens' names and defaults, unknown keys and impossible shapes as one-line
/// errors), plus the training-only fields TransformerLens keeps in the same config (<c>initializer_range</c>, default
/// 0.8/√d_model; <c>init_mode</c> "gpt2"; <c>seed</c>), limited to what the trainer saves: Hugging Face's GPT-2 layout
/// (LayerNorm or LNPre, learned positions, plain MLP or none, n_heads·d_head = d_model). Anything else is refused
/// before training starts, naming the key (docs/training.md, "Configs").
/// </summary>
public sealed record TrainingModelConfig
{
    /// <summary>The model's shape as the forward pass builds it (LNPre is built as LayerNorm with w, b frozen at 1, 0).</summary>
    public required ModelConfig Model { get; init; }
    /// <summary>attn_only: blocks without MLPs (and without ln2), as TransformerLens builds them.</summary>
    public bool AttnOnly => Model.AttnOnly;
    /// <summary>normalization_type "LN" (LayerNorm with trained w and b) or "LNPre" (centre and scale only: w, b kept at 1 and 0).</summary>
    public string NormalizationType { get; init; } = "LN";
    /// <summary>initializer_range: the standard deviation of every W_ at initialisation (TransformerLens' "gpt2" init).</summary>
    public required float InitializerRange { get; init; }
    /// <summary>seed, when the config gives one (the command's --seed wins).</summary>
    public int? Seed { get; init; }
    /// <summary>The config as TransformerLens names it, defaults filled in (saved with checkpoints and in config.json).</summary>
    public required JsonObject Json { get; init; }

    /// <summary>Reads a config file (see <see cref="Parse"/>).</summary>
    /// <param name="path">the JSON file</param>
    public static TrainingModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"config file {path} does not exist: pass a JSON file of HookedTransformerConfig fields");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates a HookedTransformerConfig JSON object; <paramref name="source"/> names it in errors.</summary>
    /// <param name="json">the JSON text</param>
    /// <param name="source">file name for messages</param>
    public static TrainingModelConfig Parse(string json, string source = "config")
    {
        var model = ModelConfigJson.Parse(json, source);
        var o = (JsonObject)JsonNode.Parse(json)!;
        float range = Number(o, "initializer_range", source) ?? -1f;
        if (range < 0) range = (float)(0.8 / Math.Sqrt(model.DModel));
        if (!(range > 0) || float.IsInfinity(range)) throw new InvalidInputException($"{source}: initializer_range {range} must be positive (or -1 for 0.8/sqrt(d_model))");
        string initMode = o["init_mode"] is JsonValue m && m.GetValueKind() == JsonValueKind.String ? m.GetValue<string>() : "gpt2";
        if (initMode != "gpt2") throw Unsupported(source, "init_mode", initMode, "\"gpt2\"");
        if (o["init_weights"] is JsonValue w && w.GetValueKind() == JsonValueKind.False) throw Unsupported(source, "init_weights", "false", "true (a model is trained from TransformerLens' initialisation)");
        int? seed = o["seed"] is JsonValue s && s.GetValueKind() == JsonValueKind.Number ? (int)s.GetValue<double>() : null;
        RequireGpt2Layout(model, source);
        string norm = model.NormalizationType;
        var json2 = (JsonObject)JsonNode.Parse(ModelConfigJson.ToJson(model))!;
        json2["initializer_range"] = range;
        json2["init_mode"] = initMode;
        return new TrainingModelConfig
        {
            Model = model with { NormalizationType = "LN" }, NormalizationType = norm, InitializerRange = range, Seed = seed, Json = json2,
        };
    }

    /// <summary>Refuses, naming the key, what Hugging Face's GPT-2 layout (the layout a trained model is saved in) cannot
    /// hold: the families' options wait for their inverse weight maps.</summary>
    private static void RequireGpt2Layout(ModelConfig c, string source)
    {
        const string Families = "GPT-2's layout, the one trained models are saved in, cannot hold it";
        if (!Gpt2Config.SupportedActivations.Contains(c.ActFn) && !c.AttnOnly) throw Unsupported(source, "act_fn", c.ActFn, $"{string.Join(", ", Gpt2Config.SupportedActivations)} ({Families})");
        if (c.NormalizationType is not ("LN" or "LNPre")) throw Unsupported(source, "normalization_type", c.NormalizationType, $"\"LN\" or \"LNPre\" ({Families})");
        if (c.PositionalEmbeddingType != "standard") throw Unsupported(source, "positional_embedding_type", c.PositionalEmbeddingType, $"\"standard\" ({Families})");
        if (c.KeyValueHeads != c.NHeads) throw Unsupported(source, "n_key_value_heads", c.KeyValueHeads.ToString(), $"null or n_heads ({c.NHeads}) ({Families})");
        if (c.GatedMlp) throw Unsupported(source, "gated_mlp", "true", $"false ({Families})");
        if (c.ParallelAttnMlp) throw Unsupported(source, "parallel_attn_mlp", "true", $"false ({Families})");
        if (c.UseQkNorm) throw Unsupported(source, "use_qk_norm", "true", $"false ({Families})");
        if (c.UseLocalAttn) throw Unsupported(source, "use_local_attn", "true", $"false ({Families})");
        if (c.FinalRms) throw Unsupported(source, "final_rms", "true", "false");
        if (c.NHeads * c.DHead != c.DModel)
            throw new InvalidInputException($"{source}: n_heads {c.NHeads} x d_head {c.DHead} is not d_model {c.DModel}, which GPT-2's layout needs; leave d_head out (d_model / n_heads)");
    }

    private static float? Number(JsonObject o, string key, string source) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => (float)v.GetValue<double>(),
        var v => throw new InvalidInputException($"{source}: '{key}' = {v.ToJsonString()} must be a number"),
    };

    private static InvalidInputException Unsupported(string source, string key, string value, string supported) =>
        new($"{source}: {key} = {value} is not supported by the trainer; use {supported}");
}
