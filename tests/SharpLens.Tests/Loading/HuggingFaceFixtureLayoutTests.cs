using System.Text.Json;
using SharpLens.Loading;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Loading;

/// <summary>
/// The family fixtures written by tests/reference/make_family_fixtures.py are well-formed Hugging Face model folders:
/// config.json with the keys transformers writes, exactly the checkpoint tensors the architecture has (names, [out, in]
/// shapes, one dtype matching torch_dtype), a consistent shard index, and tokens/goldens of matching sizes.
/// Written independently of the generator, so a broken regeneration fails here. It does not load the model.
/// </summary>
public class HuggingFaceFixtureLayoutTests
{
    [Theory]
    [InlineData("neox-parallel", "gpt_neox")]
    [InlineData("neox-sequential", "gpt_neox")]
    [InlineData("llama2", "llama")]
    [InlineData("llama3", "llama")]
    [InlineData("mistral", "mistral")]
    [InlineData("qwen2", "qwen2")]
    [InlineData("qwen3", "qwen3")]
    public void FixtureFolderIsAWellFormedHuggingFaceCheckpoint(string fixture, string modelType)
    {
        string folder = Fixtures.Folder(fixture);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var c = config.RootElement;
        Assert.Equal(modelType, c.GetProperty("model_type").GetString());
        string architecture = modelType switch
        {
            "gpt_neox" => "GPTNeoXForCausalLM", "llama" => "LlamaForCausalLM", "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM", _ => "Qwen3ForCausalLM",
        };
        Assert.Equal(new[] { architecture }, c.GetProperty("architectures").EnumerateArray().Select(e => e.GetString()!));
        foreach (var key in new[] { "bos_token_id", "eos_token_id", "tie_word_embeddings", "transformers_version",
                     modelType == "gpt_neox" ? "layer_norm_eps" : "rms_norm_eps", "max_position_embeddings" })
            Assert.True(c.TryGetProperty(key, out _), $"{fixture}/config.json lacks {key}");
        string dtype = c.GetProperty("torch_dtype").GetString() switch
        {
            "float32" => "F32", "float16" => "F16", "bfloat16" => "BF16", var other => throw new Xunit.Sdk.XunitException(other),
        };

        var shapes = ReadCheckpoint(folder, dtype);
        var expected = ExpectedTensors(c);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), shapes.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in expected)
            Assert.True(shape.SequenceEqual(shapes[name]), $"{fixture} {name}: [{string.Join(",", shapes[name])}], expected [{string.Join(",", shape)}]");

        int vocab = c.GetProperty("vocab_size").GetInt32(), bos = c.GetProperty("bos_token_id").GetInt32();
        var tokens = Fixtures.Tokens(fixture);
        Assert.All(tokens.Clean.Concat(tokens.Corrupted), row => Assert.Equal(bos, row[0]));
        Assert.All(tokens.Clean.Concat(tokens.Corrupted).Concat(tokens.Answers).SelectMany(r => r), id => Assert.InRange(id, 0, vocab - 1));
        int batch = tokens.Clean.Length, pos = tokens.Clean[0].Length;
        foreach (bool processed in new[] { false, true })
        {
            using var golden = Fixtures.Golden(fixture, processed);
            Assert.Equal(new[] { batch, pos, vocab }, golden.GetShape("logits"));
            Assert.Equal(new[] { batch, pos, c.GetProperty("hidden_size").GetInt32() }, golden.GetShape("blocks.0.hook_resid_pre"));
            Assert.True(golden.Contains(processed ? "metric.clean" : "lm_loss"));
        }
    }

    /// <summary>Every tensor of the checkpoint (single file or shards) with its shape; checks dtypes and the index.</summary>
    private static Dictionary<string, int[]> ReadCheckpoint(string folder, string dtype)
    {
        string index = Path.Combine(folder, "model.safetensors.index.json");
        var files = new Dictionary<string, List<string>>();
        long totalSize = -1;
        if (File.Exists(index))
        {
            Assert.False(File.Exists(Path.Combine(folder, "model.safetensors")), "a sharded fixture has no model.safetensors");
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            totalSize = doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64();
            foreach (var entry in doc.RootElement.GetProperty("weight_map").EnumerateObject())
            {
                string file = entry.Value.GetString()!;
                Assert.Matches(@"^model-\d{5}-of-\d{5}\.safetensors$", file);
                if (!files.TryGetValue(file, out var names)) files[file] = names = [];
                names.Add(entry.Name);
            }
            Assert.True(files.Count > 1, "an index names more than one shard");
        }
        else files["model.safetensors"] = null!;

        var shapes = new Dictionary<string, int[]>();
        long bytes = 0;
        foreach (var (file, mapped) in files)
        {
            using var st = SafetensorsFile.Open(Path.Combine(folder, file));
            Assert.Equal("pt", st.Metadata["format"]);
            if (mapped is not null) Assert.Equal(mapped.Order(StringComparer.Ordinal), st.Names.Order(StringComparer.Ordinal));
            foreach (var entry in st.Entries)
            {
                Assert.Equal(dtype, entry.Dtype);
                Assert.True(shapes.TryAdd(entry.Name, entry.Shape), $"{entry.Name} is in two shards");
                bytes += entry.End - entry.Begin;
            }
        }
        if (totalSize >= 0) Assert.Equal(bytes, totalSize);
        return shapes;
    }

    /// <summary>The checkpoint tensors each architecture has in transformers, nn.Linear weights as [out, in].</summary>
    private static Dictionary<string, int[]> ExpectedTensors(JsonElement c)
    {
        int Int(string key) => c.GetProperty(key).GetInt32();
        int d = Int("hidden_size"), layers = Int("num_hidden_layers"), heads = Int("num_attention_heads");
        int vocab = Int("vocab_size"), mlp = Int("intermediate_size");
        bool tied = c.GetProperty("tie_word_embeddings").GetBoolean();
        string type = c.GetProperty("model_type").GetString()!;
        var t = new Dictionary<string, int[]>();
        if (type == "gpt_neox")
        {
            t["gpt_neox.embed_in.weight"] = [vocab, d];
            for (int l = 0; l < layers; l++)
            {
                string p = $"gpt_neox.layers.{l}.";
                foreach (var norm in new[] { "input_layernorm", "post_attention_layernorm" })
                { t[p + norm + ".weight"] = [d]; t[p + norm + ".bias"] = [d]; }
                t[p + "attention.query_key_value.weight"] = [3 * d, d]; t[p + "attention.query_key_value.bias"] = [3 * d];
                t[p + "attention.dense.weight"] = [d, d]; t[p + "attention.dense.bias"] = [d];
                t[p + "mlp.dense_h_to_4h.weight"] = [mlp, d]; t[p + "mlp.dense_h_to_4h.bias"] = [mlp];
                t[p + "mlp.dense_4h_to_h.weight"] = [d, mlp]; t[p + "mlp.dense_4h_to_h.bias"] = [d];
            }
            t["gpt_neox.final_layer_norm.weight"] = [d]; t["gpt_neox.final_layer_norm.bias"] = [d];
            if (!tied) t["embed_out.weight"] = [vocab, d];
            return t;
        }
        int kv = c.TryGetProperty("num_key_value_heads", out var k) ? k.GetInt32() : heads;
        int headDim = c.TryGetProperty("head_dim", out var h) && h.ValueKind == JsonValueKind.Number ? h.GetInt32() : d / heads;
        t["model.embed_tokens.weight"] = [vocab, d];
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            t[p + "input_layernorm.weight"] = [d]; t[p + "post_attention_layernorm.weight"] = [d];
            t[p + "self_attn.q_proj.weight"] = [heads * headDim, d];
            t[p + "self_attn.k_proj.weight"] = [kv * headDim, d];
            t[p + "self_attn.v_proj.weight"] = [kv * headDim, d];
            t[p + "self_attn.o_proj.weight"] = [d, heads * headDim];
            if (type == "qwen2")
            {
                t[p + "self_attn.q_proj.bias"] = [heads * headDim];
                t[p + "self_attn.k_proj.bias"] = [kv * headDim];
                t[p + "self_attn.v_proj.bias"] = [kv * headDim];
            }
            if (type == "qwen3") { t[p + "self_attn.q_norm.weight"] = [headDim]; t[p + "self_attn.k_norm.weight"] = [headDim]; }
            t[p + "mlp.gate_proj.weight"] = [mlp, d]; t[p + "mlp.up_proj.weight"] = [mlp, d]; t[p + "mlp.down_proj.weight"] = [d, mlp];
        }
        t["model.norm.weight"] = [d];
        if (!tied) t["lm_head.weight"] = [vocab, d];
        return t;
    }
}
