using SharpLens.Families.Gpt2;
using SharpLens.Loading;

namespace SharpLens.Tests.Loading;

public class Gpt2ConfigTests
{
    private const string Gpt2Json = """
        {
          "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.1,
          "bos_token_id": 50256,
          "embd_pdrop": 0.1,
          "eos_token_id": 50256,
          "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05,
          "model_type": "gpt2",
          "n_ctx": 1024,
          "n_embd": 768,
          "n_head": 12,
          "n_layer": 12,
          "n_positions": 1024,
          "resid_pdrop": 0.1,
          "summary_type": "cls_index",
          "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
          "vocab_size": 50257
        }
        """;

    [Fact]
    public void ParsesHuggingFaceGpt2Config()
    {
        var c = Gpt2Config.Parse(Gpt2Json);
        Assert.Equal(12, c.NLayer);
        Assert.Equal(12, c.NHead);
        Assert.Equal(768, c.NEmbd);
        Assert.Equal(64, c.DHead);
        Assert.Equal(1024, c.NPositions);
        Assert.Equal(50257, c.VocabSize);
        Assert.Equal(1e-5f, c.LayerNormEpsilon);
        Assert.Equal("gelu_new", c.ActivationFunction);
        Assert.Null(c.NInner);
        Assert.Equal(3072, c.DMlp);
        Assert.Equal(["GPT2LMHeadModel"], c.Architectures);
    }

    [Fact]
    public void RoundTripsThroughToJsonAndLoad()
    {
        using var dir = new TempDir();
        var c = new Gpt2Config { NLayer = 2, NHead = 2, NEmbd = 8, NPositions = 16, VocabSize = 11, NInner = 20, LayerNormEpsilon = 1e-6f };
        File.WriteAllText(dir.File("config.json"), c.ToJson());
        var back = Gpt2Config.Load(dir.Path);
        Assert.Equal(c.NLayer, back.NLayer);
        Assert.Equal(20, back.DMlp);
        Assert.Equal(4, back.DHead);
        Assert.Equal(1e-6f, back.LayerNormEpsilon);
        Assert.Equal(16, back.NPositions);
        Assert.Equal(c.Architectures, back.Architectures);
    }

    [Fact]
    public void OldConfigWithNCtxOnly()
    {
        var c = Gpt2Config.Parse("""{"n_ctx": 512, "n_embd": 64, "n_head": 4, "n_layer": 1}""");
        Assert.Equal(512, c.NPositions);
        Assert.Equal(50257, c.VocabSize);
    }

    [Theory]
    [InlineData("""{"architectures":["LlamaForCausalLM"],"model_type":"llama"}""", "unsupported architecture LlamaForCausalLM in cfg.json: SharpLens supports GPT2LMHeadModel")]
    [InlineData("""{"model_type":"gpt_neox"}""", "unsupported architecture")]
    [InlineData("""{"activation_function":"swish"}""", "unsupported activation_function swish in cfg.json")]
    [InlineData("""{"n_embd":770,"n_head":12}""", "not divisible")]
    [InlineData("""{"n_layer":0}""", "n_layer=0")]
    [InlineData("""{"n_layer":"twelve"}""", "n_layer=\"twelve\"")]
    [InlineData("""{"scale_attn_by_inverse_layer_idx":true}""", "scale_attn_by_inverse_layer_idx")]
    [InlineData("""{"n_layer":12""", "not valid JSON")]
    [InlineData("""[]""", "not an object")]
    public void RejectsBadConfigsWithOneLineMessages(string json, string expected)
    {
        var ex = Assert.Throws<InvalidCheckpointException>(() => Gpt2Config.Parse(json, "cfg.json"));
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void AcceptsGeluVariants()
    {
        Assert.Equal("gelu", Gpt2Config.Parse("""{"activation_function":"gelu"}""").ActivationFunction);
        Assert.Equal("gelu_pytorch_tanh", Gpt2Config.Parse("""{"activation_function":"gelu_pytorch_tanh"}""").ActivationFunction);
    }

    [Fact]
    public void MissingFileIsModelNotFound()
    {
        using var dir = new TempDir();
        Assert.Throws<ModelNotFoundException>(() => Gpt2Config.Load(dir.File("config.json")));
    }
}
