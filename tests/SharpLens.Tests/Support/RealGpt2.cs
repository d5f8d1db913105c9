using System.Text.Json.Nodes;
using SharpLens.Loading;
using SharpLens.Model;

namespace SharpLens.Tests.Support;

/// <summary>
/// Real GPT-2 small, found through SHARPLENS_GPT2 (a model folder) or the Hugging Face cache (HF_HOME /
/// HF_HUB_CACHE / ~/.cache/huggingface). Never downloads: tests that need it are skipped with the reason.
/// </summary>
public static class RealGpt2
{
    private static readonly Lazy<string?> FolderLazy = new(Find);
    private static readonly Lazy<HookedTransformer> ModelLazy = new(() => ModelLoader.Load(FolderLazy.Value!));

    public static string? Folder => FolderLazy.Value;
    public static HookedTransformer Model => ModelLazy.Value;

    public const string SkipReason =
        "real GPT-2 small weights not found: set SHARPLENS_GPT2 to a folder with config.json + model.safetensors, or put gpt2 in the Hugging Face cache (huggingface-cli download gpt2)";

    /// <summary>The study's numbers, read from the notebook's saved outputs.</summary>
    public static JsonNode Notebook => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "reference", "contraction-notebook.json")))!;

    private static string? Find()
    {
        if (Environment.GetEnvironmentVariable("SHARPLENS_GPT2") is { Length: > 0 } folder && Directory.Exists(folder)) return folder;
        try
        {
            using var client = new HubClient(HubOptions.FromEnvironment() with { Offline = true });
            foreach (var id in new[] { "gpt2", "openai-community/gpt2" })
                if (client.TryGetCachedModel(id, out _) is string cached) return cached;
        }
        catch (SharpLensException) { }
        return null;
    }
}

/// <summary>A fact that runs only where real GPT-2 weights are available, and says why it was skipped otherwise.</summary>
public sealed class RealGpt2FactAttribute : FactAttribute
{
    public RealGpt2FactAttribute()
    {
        if (RealGpt2.Folder is null) Skip = RealGpt2.SkipReason;
    }
}
