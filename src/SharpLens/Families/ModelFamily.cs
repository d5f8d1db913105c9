using SharpLens.Model;

namespace SharpLens.Families;

/// <summary>
/// One architecture family as Hugging Face stores it: how its config.json maps to a <see cref="ModelConfig"/> and how
/// its checkpoint keys map to TransformerLens' weight names (every tensor accounted for). A family is one folder under
/// <c>Families/</c>; <see cref="ModelFamilies"/> dispatches on config.json's <c>model_type</c> (or <c>architectures</c>).
/// </summary>
internal abstract class ModelFamily
{
    /// <summary>config.json's model_type for this family (e.g. "gpt_neox").</summary>
    public abstract string ModelType { get; }

    /// <summary>Architecture class names that identify the family when model_type is absent (e.g. "LlamaForCausalLM").</summary>
    public abstract IReadOnlyList<string> Architectures { get; }

    /// <summary>Whether an <c>architectures</c> entry names this family.</summary>
    public virtual bool Matches(string architecture) => Architectures.Contains(architecture);

    /// <summary>The model's configuration from config.json (one-line errors naming the key for anything unsupported).</summary>
    public abstract ModelConfig ReadConfig(HfConfig hf);

    /// <summary>The raw (unprocessed) weights in TransformerLens' names and layouts; must take every tensor it needs from
    /// <paramref name="tensors"/> and leave only known buffers untaken.</summary>
    public abstract TransformerWeights ReadWeights(ModelConfig config, HfConfig hf, CheckpointTensors tensors);
}

/// <summary>The registry of families: every model_type SharpLens loads.</summary>
internal static class ModelFamilies
{
    /// <summary>Every family, in the order they are listed to users.</summary>
    public static readonly IReadOnlyList<ModelFamily> All =
    [
        new Gpt2.Gpt2Family(), new GptNeox.GptNeoxFamily(), new Llama.LlamaFamily(), new Mistral.MistralFamily(),
        new Qwen2.Qwen2Family(), new Qwen3.Qwen3Family(),
    ];

    /// <summary>The model_types SharpLens loads.</summary>
    public static IEnumerable<string> SupportedModelTypes => All.Select(f => f.ModelType);

    /// <summary>The family of <paramref name="hf"/>: by model_type, else by architectures; GPT-2 for a config with
    /// neither (old GPT-2 configs); a one-line error naming the supported ones otherwise.</summary>
    public static ModelFamily For(HfConfig hf)
    {
        string supported = string.Join(", ", SupportedModelTypes);
        if (hf.ModelType is { } type)
            return All.FirstOrDefault(f => f.ModelType == type)
                ?? throw new InvalidCheckpointException($"unsupported model_type '{type}' in {hf.Source}: SharpLens loads {supported}");
        if (hf.Architectures.Count == 0) return All[0];
        return All.FirstOrDefault(f => hf.Architectures.Any(f.Matches))
            ?? throw new InvalidCheckpointException($"unsupported architecture {string.Join(", ", hf.Architectures)} in {hf.Source}: SharpLens loads {supported} ({string.Join(", ", All.SelectMany(f => f.Architectures))})");
    }
}
