using System.Text.Json;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Cli;

/// <summary>
/// Every analysis a researcher runs, through the real <c>sharplens</c> program, on a tiny random Hugging Face folder of
/// every family (config.json + safetensors written by <see cref="HfFamilyCheckpoint"/> independently of the library's
/// weight maps, plus the family's tokenizer from fixtures/tokenizers): predict (ids and text), activations, head/neuron
/// attribution (DLA), plain and exact patching (which must agree), EAP-IG circuits, path patching, the attention view,
/// the OV view, generation and the neuron index. Each command must succeed and write outputs of the family's shapes.
/// </summary>
public class FamilyCommandMatrixTests
{
    /// <summary>(family case, model_type, architecture in <see cref="Architectures"/>, tokenizer fixture).</summary>
    public static TheoryData<string, string, string, string> Families() => new()
    {
        { "pythia", "gpt_neox", "neox", "bpe-neox" },
        { "neox-sequential", "gpt_neox", "neox-sequential", "bpe-neox" },
        { "llama3", "llama", "llama", "bpe-llama3" },
        { "mistral", "mistral", "mistral", "spm-llama" },
        { "qwen2", "qwen2", "llama", "bpe-qwen2" },
        { "qwen3", "qwen3", "qwen3", "bpe-qwen2" },
    };

    private const int Vocab = 800;    // above every fixture tokenizer's ids, as real checkpoints pad their vocabularies

    private static string WriteFolder(string dir, string modelType, string arch, string tokenizer)
    {
        var cfg = Architectures.Get(arch) with
        {
            DVocab = Vocab, NCtx = 32,
            OriginalArchitecture = modelType switch
            {
                "gpt_neox" => "GPTNeoXForCausalLM", "llama" => "LlamaForCausalLM", "mistral" => "MistralForCausalLM",
                "qwen2" => "Qwen2ForCausalLM", _ => "Qwen3ForCausalLM",
            },
        };
        if (modelType == "qwen2") cfg = cfg with { UseNtkByPartsRope = false };
        var w = RandomWeights.Create(cfg, seed: 3, std: 0.3f);
        if (modelType != "gpt_neox")
        {
            // Llama-like checkpoints carry no biases except Qwen2's q/k/v ones (TransformerLens fills zeros).
            foreach (var b in w.Blocks)
                foreach (var t in modelType == "qwen2" ? new[] { b.b_O, b.b_in!, b.b_out! } : [b.b_Q, b.b_K, b.b_V, b.b_O, b.b_in!, b.b_out!])
                    Array.Clear(t.Data);
            Array.Clear(w.b_U.Data);
        }
        HfFamilyCheckpoint.Write(dir, modelType, cfg, w);
        foreach (var f in Directory.GetFiles(Path.Combine(Fixtures.Folder("tokenizers"), tokenizer)).Where(f => !f.EndsWith("goldens.json", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    private static CliRunner.Result Ok(string what, params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.True(r.ExitCode == 0, $"{what}: exit {r.ExitCode}\n{r.Stderr}");
        return r;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void EveryAnalysisRunsOnTheFamilysFolder(string name, string modelType, string arch, string tokenizer)
    {
        string root = CliRunner.TempDir(), model = WriteFolder(Path.Combine(root, name), modelType, arch, tokenizer);
        var cfg = Architectures.Get(arch);
        string F(string file) => Path.Combine(root, file);
        try
        {
            // predict: token ids (no tokenizer needed) and text (the family's tokenizer).
            var predict = JsonDocument.Parse(Ok($"{name} predict --tokens", "predict", "--model", model, "--tokens", "1,2,3", "--top-k", "10", "--json").Stdout).RootElement;
            Assert.Contains(predict.EnumerateObject(), p => p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 10);
            Ok($"{name} predict --prompt", "predict", "--model", model, "--prompt", "The cat sat on", "--top-k", "5");

            // activations: shapes of the family (hook_k has n_key_value_heads heads).
            File.WriteAllText(F("tokens.json"), "[[1, 5, 7, 9, 11, 13]]");
            Ok($"{name} activations", "activations", "--model", model, "--tokens-file", F("tokens.json"),
                "--hooks", "blocks.0.hook_resid_post,blocks.1.attn.hook_k,blocks.1.mlp.hook_post", "--out", F("acts.safetensors"), "--raw-weights");
            using (var acts = SafetensorsFile.Open(F("acts.safetensors")))
            {
                Assert.Equal([1, 6, cfg.DModel], acts.ReadTensor("blocks.0.hook_resid_post").Shape);
                Assert.Equal([1, 6, cfg.KeyValueHeads, cfg.DHead], acts.ReadTensor("blocks.1.attn.hook_k").Shape);
                Assert.Equal([1, 6, cfg.DMlp], acts.ReadTensor("blocks.1.mlp.hook_post").Shape);
            }

            // Analyses of clean/corrupted pairs.
            File.WriteAllText(F("input.json"), """
                {"clean": [[1, 21, 2, 120, 67, 58], [1, 10, 81, 95, 57, 121]],
                 "corrupted": [[1, 21, 119, 120, 67, 58], [1, 10, 58, 95, 14, 121]],
                 "answers": [[19, 74], [98, 127]]}
                """);
            Ok($"{name} attribute", "attribute", "--model", model, "--input", F("input.json"), "--json", F("dla.json"));
            Assert.True(new FileInfo(F("dla.json")).Length > 0);
            Ok($"{name} patch plain", "patch", "--model", model, "--input", F("input.json"), "--method", "plain", "--json", F("plain.json"));
            Ok($"{name} patch exact", "patch", "--model", model, "--input", F("input.json"), "--method", "exact", "--json", F("exact.json"));
            AssertSameNumbers(name, JsonDocument.Parse(File.ReadAllText(F("plain.json"))).RootElement, JsonDocument.Parse(File.ReadAllText(F("exact.json"))).RootElement, "$");
            Ok($"{name} circuit", "circuit", "--model", model, "--input", F("input.json"), "--method", "eap-ig", "--edges", "10", "--curve", "5,10", "--json", F("circuit.json"));
            var circuit = JsonDocument.Parse(File.ReadAllText(F("circuit.json"))).RootElement;
            Assert.Equal(cfg.ParallelAttnMlp, circuit.GetProperty("cfg").GetProperty("parallel_attn_mlp").GetBoolean());
            Ok($"{name} path-patch", "path-patch", "--model", model, "--input", F("input.json"), "--receivers", "logits", "--json", F("path.json"));

            // Views and generation.
            Ok($"{name} view attention", "view", "attention", "--model", model, "--tokens", "1,5,7,9", "--heads", "1.1", "--out", F("attention"));
            Ok($"{name} ov", "ov", "--model", model, "--head", "1.1", "--token-ids", "5,6", "--json", F("ov.json"));
            var generated = Ok($"{name} generate", "generate", "--model", model, "--tokens", "1,2,3", "-n", "5", "-t", "0");
            Assert.False(string.IsNullOrWhiteSpace(generated.Stdout));

            // The neuron index over a tiny text corpus (gated MLPs index hook_post).
            Directory.CreateDirectory(F("corpus"));
            File.WriteAllText(Path.Combine(F("corpus"), "a.txt"), "The cat sat on the mat. A dog ran in the park and the cat ran after it.");
            Ok($"{name} neurons index", "neurons", "index", "--model", model, "--corpus", F("corpus"), "--out", F("neurons.db"), "--context", "8");
            Assert.True(File.Exists(F("neurons.db")));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    // Plain and exact patching write the same results: every number at the same place agrees to 1e-4.
    private static void AssertSameNumbers(string name, JsonElement a, JsonElement b, string path)
    {
        switch (a.ValueKind)
        {
            case JsonValueKind.Number:
                Assert.True(Math.Abs(a.GetDouble() - b.GetDouble()) <= 1e-4 + 1e-4 * Math.Abs(a.GetDouble()), $"{name} {path}: plain {a} vs exact {b}");
                break;
            case JsonValueKind.Array:
                Assert.Equal(a.GetArrayLength(), b.GetArrayLength());
                int i = 0;
                foreach (var (x, y) in a.EnumerateArray().Zip(b.EnumerateArray())) AssertSameNumbers(name, x, y, $"{path}[{i++}]");
                break;
            case JsonValueKind.Object:
                foreach (var p in a.EnumerateObject())
                    if (p.Name is not ("method" or "seconds" or "elapsed_seconds" or "created") && b.TryGetProperty(p.Name, out var q))
                        AssertSameNumbers(name, p.Value, q, $"{path}.{p.Name}");
                break;
        }
    }
}
