using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;
using SharpLens.Tokenization;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Loading;

/// <summary>
/// Each family's Hugging Face folder (config.json keys, tensor names and PyTorch layouts written by
/// <see cref="HfFamilyCheckpoint"/>, independently of the library's weight maps) loads to exactly the TransformerLens
/// weights it was written from and the same logits; a config that disagrees with its weights, or a family SharpLens
/// does not know, is one line naming the problem.
/// </summary>
public class FamilyLoadingTests
{
    /// <summary>(case, model_type, architecture, tied, sharded) for every family and its variants.</summary>
    public static TheoryData<string, string, string, bool, bool> Cases() => new()
    {
        { "neox", "gpt_neox", "neox", false, false },
        { "neox-sequential", "gpt_neox", "neox-sequential", false, false },
        { "llama3-gqa-scaled", "llama", "llama", false, false },
        { "llama-tied-sharded", "llama", "llama", true, true },
        { "mistral-window", "mistral", "mistral", false, false },
        { "qwen2-biases-window", "qwen2", "qwen2", false, false },
        { "qwen3-qk-norm", "qwen3", "qwen3", false, true },
    };

    private static (ModelConfig Config, TransformerWeights Weights) Source(string modelType, string arch, bool tied)
    {
        var cfg = arch == "qwen2"
            ? Architectures.Get("llama") with { UseNtkByPartsRope = false, UseLocalAttn = true, WindowSize = 3, AttnTypes = ["global", "local"] }
            : Architectures.Get(arch);
        cfg = cfg with
        {
            OriginalArchitecture = modelType switch
            {
                "gpt_neox" => "GPTNeoXForCausalLM", "llama" => "LlamaForCausalLM", "mistral" => "MistralForCausalLM",
                "qwen2" => "Qwen2ForCausalLM", _ => "Qwen3ForCausalLM",
            },
        };
        var w = RandomWeights.Create(cfg, seed: 5, std: 0.3f);
        if (modelType != "gpt_neox")
        {
            // Llama-like checkpoints have no biases but Qwen2's q/k/v ones; TransformerLens fills the rest with zeros.
            foreach (var b in w.Blocks)
            {
                var zero = modelType == "qwen2" ? new[] { b.b_O, b.b_in!, b.b_out! } : [b.b_Q, b.b_K, b.b_V, b.b_O, b.b_in!, b.b_out!];
                foreach (var t in zero) Array.Clear(t.Data);
            }
            Array.Clear(w.b_U.Data);
            if (tied) HfFamilyCheckpoint.T(w.W_E).Data.CopyTo(w.W_U.Data, 0);
        }
        return (cfg, w);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachFamilysFolderLoadsToTheWeightsAndLogitsItWasWrittenFrom(string name, string modelType, string arch, bool tied, bool sharded)
    {
        using var dir = new TempDir();
        var (cfg, w) = Source(modelType, arch, tied);
        HfFamilyCheckpoint.Write(dir.Path, modelType, cfg, w, tied, sharded);
        var (loadedConfig, loaded) = ModelLoader.LoadRawWeights(dir.Path);

        var expected = w.Named().ToDictionary(p => p.Name, p => p.Tensor);
        var found = loaded.Named().ToList();
        Assert.Equal(expected.Keys.Order(), found.Select(p => p.Name).Order());
        foreach (var (n, t) in found)
        {
            Assert.Equal(expected[n].Shape, t.Shape);
            Assert.True(expected[n].Data.AsSpan().SequenceEqual(t.Data), $"{name}: {n} differs");
        }
        Assert.Equal(cfg.OriginalArchitecture, loadedConfig.OriginalArchitecture);
        var tokens = new TokenBatch([[1, 5, 7, 2, 9, 11, 3], [4, 4, 8, 1, 0, 6, 2]], padId: 0);
        var want = new HookedTransformer(cfg, w, weightsProcessed: false).Forward(tokens);
        var got = new HookedTransformer(loadedConfig, loaded, weightsProcessed: false).Forward(tokens);
        TensorAssert.Close(want, got, $"{name} logits", atol: 1e-5f);
    }

    [Fact]
    public void AnUnsupportedModelTypeNamesTheSupportedOnes()
    {
        using var dir = new TempDir();
        var (cfg, w) = Source("llama", "llama", tied: false);
        HfFamilyCheckpoint.Write(dir.Path, "llama", cfg, w, edit: c => c["model_type"] = "falcon");
        var e = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.LoadRawWeights(dir.Path));
        Assert.Contains("unsupported model_type 'falcon'", e.Message);
        Assert.Contains("gpt2, gpt_neox, llama, mistral, qwen2, qwen3", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void KeyValueHeadsThatDisagreeWithTheWeightsNameTheTensorAndBothShapes()
    {
        using var dir = new TempDir();
        var (cfg, w) = Source("llama", "llama", tied: false);   // 2 key/value heads of 8
        HfFamilyCheckpoint.Write(dir.Path, "llama", cfg, w, edit: c => c["num_key_value_heads"] = 4);
        var e = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.LoadRawWeights(dir.Path));
        Assert.Contains("model.layers.0.self_attn.k_proj.weight", e.Message);
        Assert.Contains("has shape [16, 16], expected [32, 16]", e.Message);
        Assert.Contains("num_key_value_heads", e.Message);
    }

    [Fact]
    public void AVocabularySizeThatDisagreesWithTheEmbeddingNamesIt()
    {
        using var dir = new TempDir();
        var (cfg, w) = Source("gpt_neox", "neox", tied: false);
        HfFamilyCheckpoint.Write(dir.Path, "gpt_neox", cfg, w, edit: c => c["vocab_size"] = 30);
        var e = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.LoadRawWeights(dir.Path));
        Assert.Contains("embed_in.weight", e.Message);
        Assert.Contains($"has shape [{cfg.DVocab}, {cfg.DModel}], expected [30, {cfg.DModel}]", e.Message);
    }

    [Fact]
    public void AQwen3ConfigOverWeightsWithoutQkNormNamesTheMissingTensor()
    {
        using var dir = new TempDir();
        var (cfg, w) = Source("llama", "mistral", tied: false);
        HfFamilyCheckpoint.Write(dir.Path, "llama", cfg with { UseLocalAttn = false, WindowSize = null, AttnTypes = null }, w,
            edit: c => c["model_type"] = "qwen3");
        var e = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.LoadRawWeights(dir.Path));
        Assert.Contains("missing tensor 'model.layers.0.self_attn.q_norm.weight'", e.Message);
    }

    [Fact]
    public void WeightsAConfigDoesNotUseAreNamed()
    {
        using var dir = new TempDir();
        var (cfg, w) = Source("qwen3", "qwen3", tied: false);
        HfFamilyCheckpoint.Write(dir.Path, "qwen3", cfg, w, edit: c => c["model_type"] = "qwen2");
        // Qwen2 reads q/k/v biases the Qwen3 checkpoint does not have: the first missing one is named.
        var e = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.LoadRawWeights(dir.Path));
        Assert.Contains("missing tensor 'model.layers.0.self_attn.q_proj.bias'", e.Message);
        using var dir2 = new TempDir();
        HfFamilyCheckpoint.Write(dir2.Path, "qwen3", cfg, w, edit: c => c["model_type"] = "mistral");
        e = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.LoadRawWeights(dir2.Path));
        Assert.Contains("does not use", e.Message);
        Assert.Contains("self_attn.k_norm.weight", e.Message);
    }

    [Fact]
    public void PredictAndActivationsRunOnAFamilyFolder()
    {
        using var dir = new TempDir();
        var (cfg, w) = Source("qwen3", "qwen3", tied: false);
        HfFamilyCheckpoint.Write(dir.Path, "qwen3", cfg, w);
        var r = CliRunner.Run("predict", "--model", dir.Path, "--tokens", "1,2,3", "--top-k", "10", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        string tokensFile = Path.Combine(dir.Path, "tokens.json"), output = Path.Combine(dir.Path, "acts.safetensors");
        File.WriteAllText(tokensFile, "[[1, 2, 3, 4], [5, 6, 7, 8]]");
        r = CliRunner.Run("activations", "--model", dir.Path, "--tokens-file", tokensFile,
            "--hooks", "blocks.0.hook_resid_post,blocks.1.attn.hook_rot_k", "--out", output, "--raw-weights");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var saved = SafetensorsCheckpoint.Open(output);
        Assert.Equal([2, 4, cfg.KeyValueHeads, cfg.DHead], saved.GetShape("blocks.1.attn.hook_rot_k"));
    }
}
