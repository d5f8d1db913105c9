using SharpLens.Families.Gpt2;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Tests.Support;

/// <summary>
/// A random checkpoint with GPT-2 small's layout where commands name it (12 layers, 12 heads, 3072 neurons per
/// layer, the 50257-token GPT-2 vocabulary, so every prompt, head and neuron the README names exists) but a tiny
/// residual stream, written as Hugging Face does (config.json + model.safetensors) and, for
/// <c>--model gpt2</c>, as a Hugging Face hub cache (<c>models--gpt2/{blobs,refs,snapshots}</c>).
/// </summary>
public static class RandomGpt2Checkpoint
{
    /// <summary>The shape: GPT-2 small's layers, heads, neurons and vocabulary; d_model 48 (d_head 4); 128 positions.</summary>
    public static ModelConfig Config => new()
    {
        NLayers = 12, DModel = 48, NHeads = 12, DHead = 4, DMlp = 3072, DVocab = 50257, NCtx = 128,
    };

    private static readonly Lazy<string> SharedCache = new(() => WriteHubCache(Path.Combine(Path.GetTempPath(),
        $"sharplens-tests-random-gpt2-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}"), "gpt2"));

    /// <summary>
    /// A Hugging Face cache folder (for HF_HUB_CACHE) in which <c>gpt2</c> is the random checkpoint; written once per
    /// test run.
    /// </summary>
    public static string HubCache => SharedCache.Value;

    /// <summary>Writes config.json and model.safetensors (Hugging Face GPT-2 keys) of random weights into <paramref name="folder"/>.</summary>
    public static void WriteFolder(string folder, int seed = 0)
    {
        var cfg = Config;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(cfg));
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), Gpt2WeightMap.ToHuggingFace(cfg, RandomWeights.Create(cfg, seed)));
    }

    /// <summary>Writes the checkpoint as the cache layout huggingface_hub uses: content-addressed blobs, a ref and a snapshot of links.</summary>
    public static string WriteHubCache(string cacheDir, string repoId)
    {
        string staging = Path.Combine(cacheDir, ".staging");
        WriteFolder(staging);
        string repo = Path.Combine(cacheDir, "models--" + repoId.Replace("/", "--"));
        string commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes("sharplens random " + repoId)));
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        string snapshot = Path.Combine(repo, "snapshots", commit);
        Directory.CreateDirectory(snapshot);
        foreach (var file in new[] { "config.json", "model.safetensors" })
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(staging, file));
            // The hub names LFS files by SHA-256 and small git files by their git blob SHA-1.
            string blob = file.EndsWith(".safetensors") ? Convert.ToHexStringLower(SHA256.HashData(bytes)) : GitBlobSha1(bytes);
            File.Move(Path.Combine(staging, file), Path.Combine(repo, "blobs", blob));
            File.CreateSymbolicLink(Path.Combine(snapshot, file), Path.Combine("..", "..", "blobs", blob));
        }
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        Directory.Delete(staging, true);
        return cacheDir;
    }

    private static string GitBlobSha1(byte[] content)
    {
        byte[] header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexStringLower(SHA1.HashData([.. header, .. content]));
    }

    private static string ConfigJson(ModelConfig cfg) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["activation_function"] = "gelu_new", ["architectures"] = new[] { "GPT2LMHeadModel" }, ["model_type"] = "gpt2",
        ["bos_token_id"] = 50256, ["eos_token_id"] = 50256, ["layer_norm_epsilon"] = 1e-5,
        ["n_ctx"] = cfg.NCtx, ["n_positions"] = cfg.NCtx, ["n_embd"] = cfg.DModel, ["n_head"] = cfg.NHeads,
        ["n_inner"] = cfg.DMlp, ["n_layer"] = cfg.NLayers, ["vocab_size"] = cfg.DVocab, ["torch_dtype"] = "float32",
    });
}
