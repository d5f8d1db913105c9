using SharpLens.Families;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Loading;

/// <summary>How to load a model: weight processing (TransformerLens defaults unless raw) and hub access.</summary>
public sealed record LoadOptions
{
    /// <summary>Which of TransformerLens' weight processing steps to apply (fold LayerNorm, center writing weights and
    /// unembed, fold value biases); <see cref="WeightProcessingOptions.Default"/> is TransformerLens' default.</summary>
    public WeightProcessingOptions Processing { get; init; } = WeightProcessingOptions.Default;
    /// <summary>Called with one-line warnings (e.g. NaN in weights); when null they are dropped, except that a Debug
    /// build of SharpLens says so on stderr (<see cref="BuildInfo.UnoptimizedWarning"/>).</summary>
    public Action<string>? Warn { get; init; }
    /// <summary>Resolves hub ids to a local folder: by default the Hugging Face cache, downloading what is missing
    /// (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE); null = local folders only.</summary>
    public Func<string, string>? ResolveHubId { get; init; } = id => ModelResolver.ResolveModelFolder(id);
    /// <summary>Called with the folder's tokenizer (or why it has none) before any weight is read, so that text inputs
    /// can be checked (tokenized, single-token answers) before the expensive part of loading.</summary>
    public Action<TokenizerLoadResult>? BeforeWeights { get; init; }
}

/// <summary>Loads a Hugging Face checkpoint folder (config.json + safetensors) of any supported family (gpt2, gpt_neox,
/// llama, mistral, qwen2, qwen3) into a <see cref="HookedTransformer"/>.</summary>
public static class ModelLoader
{
    /// <summary>
    /// Loads <paramref name="modelIdOrPath"/>: a local folder with <c>config.json</c> and safetensors weights, or a hub
    /// id such as <c>gpt2</c> resolved through <see cref="LoadOptions.ResolveHubId"/>. Every tensor of the checkpoint is
    /// accounted for (unknown tensors are an error), then the weights are processed as <paramref name="options"/> says.
    /// </summary>
    /// <param name="modelIdOrPath">A model folder or a Hugging Face hub id.</param>
    /// <param name="options">Weight processing and hub access; null uses the defaults.</param>
    public static HookedTransformer Load(string modelIdOrPath, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        BuildInfo.WarnIfUnoptimized(options.Warn);
        string folder = Directory.Exists(modelIdOrPath) ? modelIdOrPath
            : options.ResolveHubId is not null ? options.ResolveHubId(modelIdOrPath)
            : throw new ModelNotFoundException($"model folder '{modelIdOrPath}' does not exist: pass a folder with config.json and model.safetensors");
        var (hf, family, config) = ReadConfig(folder);
        // The folder's own tokenizer files first; GPT-2's bundled byte-level BPE serves a GPT-2 folder without them when
        // the vocabulary contains GPT-2's (50257, or padded like nanoGPT's 50304); smaller vocabularies take token ids only.
        var tokenizer = TokenizerLoader.Load(folder, new TokenizerLoadOptions { ModelVocabSize = config.DVocab, BundledGpt2Fallback = family is Families.Gpt2.Gpt2Family });
        options.BeforeWeights?.Invoke(tokenizer);
        var raw = ReadWeights(folder, hf, family, config, options.Warn);
        var weights = options.Processing.Any ? WeightProcessing.Process(raw, options.Processing, inPlace: true, config, options.Warn) : raw;
        if (tokenizer.Tokenizer is { } t) config = config with { BosTokenId = t.BosTokenId };
        return new HookedTransformer(config, weights, options.Processing.Any, tokenizer.Tokenizer) { MissingTokenizer = tokenizer.Missing };
    }

    /// <summary>Reads config.json and the unprocessed weights of a checkpoint folder: the family is chosen by config.json's
    /// model_type (or architectures), which maps the config and the checkpoint's keys to TransformerLens' names and
    /// accounts for every tensor.</summary>
    /// <param name="folder">A model folder with config.json and safetensors weights.</param>
    /// <param name="warn">Receives warnings (e.g. tensors that are harmless to skip); null ignores them.</param>
    public static (ModelConfig Config, TransformerWeights Weights) LoadRawWeights(string folder, Action<string>? warn = null)
    {
        var (hf, family, config) = ReadConfig(folder);
        return (config, ReadWeights(folder, hf, family, config, warn));
    }

    /// <summary>config.json, its family and the validated <see cref="ModelConfig"/> (cheap: no weight is read).</summary>
    private static (HfConfig Hf, ModelFamily Family, ModelConfig Config) ReadConfig(string folder)
    {
        var hf = HfConfig.Load(folder);
        var family = ModelFamilies.For(hf);
        var config = family.ReadConfig(hf);
        try { config.Validate(); }
        catch (InvalidCheckpointException e) { throw new InvalidCheckpointException($"config {hf.Source}: {e.Message}", e); }
        return (hf, family, WithSource(config, folder));
    }

    private static TransformerWeights ReadWeights(string folder, HfConfig hf, ModelFamily family, ModelConfig config, Action<string>? warn)
    {
        using var tensors = new CheckpointTensors(folder, warn);
        return family.ReadWeights(config, hf, tensors);
    }

    /// <summary>
    /// Names the model after the folder it was read from: a Hugging Face cache snapshot
    /// (<c>models--org--name/snapshots/COMMIT</c>, however it was reached) is the hub id <c>org/name</c> at revision
    /// COMMIT, as huggingface_hub lays it out; any other folder is its own name.
    /// </summary>
    private static ModelConfig WithSource(ModelConfig config, string folder)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string commit = Path.GetFileName(full);
        string? snapshots = Path.GetDirectoryName(full), repo = snapshots is null ? null : Path.GetDirectoryName(snapshots);
        bool inCache = System.Text.RegularExpressions.Regex.IsMatch(commit, "^[0-9a-f]{40}$") && Path.GetFileName(snapshots) == "snapshots"
            && Path.GetFileName(repo)?.StartsWith("models--", StringComparison.Ordinal) == true;
        return inCache
            ? config with { ModelName = Path.GetFileName(repo)!["models--".Length..].Replace("--", "/"), Revision = commit, SourceFolder = full }
            : config with { ModelName = Path.GetFileName(full), SourceFolder = full };
    }
}
