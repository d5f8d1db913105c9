using SharpLens.Training;

namespace SharpLens.Tests.Training;

/// <summary>Configs in TransformerLens' HookedTransformerConfig names: defaults as TransformerLens', one-line errors.</summary>
public class TrainingModelConfigTests
{
    [Fact]
    public void DefaultsFollowTransformerLens()
    {
        var c = TrainingModelConfig.Parse("""{"n_layers": 2, "d_model": 128, "n_heads": 4, "d_vocab": 2048, "n_ctx": 64, "act_fn": "gelu_new", "normalization_type": "LN", "positional_embedding_type": "standard"}""");
        Assert.Equal(32, c.Model.DHead);          // d_model / n_heads
        Assert.Equal(512, c.Model.DMlp);          // 4 * d_model
        Assert.Equal(0.8f / MathF.Sqrt(128), c.InitializerRange, 6);
        Assert.Equal(1e-5f, c.Model.LayerNormEps);
        Assert.Equal(2047, c.Model.BosTokenId);   // the last id of a small vocabulary
        Assert.False(c.AttnOnly);
        Assert.Equal(50256, TrainingModelConfig.Parse("""{"n_layers": 1, "d_model": 8, "n_heads": 2, "d_vocab": 50257, "n_ctx": 4, "attn_only": true}""").Model.BosTokenId);
        // n_heads from d_head, as TransformerLens' __post_init__ infers it; defaults of other fields accepted.
        var h = TrainingModelConfig.Parse("""{"n_layers": 1, "d_model": 64, "d_head": 16, "d_vocab": 10, "n_ctx": 8, "act_fn": "gelu_new", "use_attn_result": false, "rotary_dim": null, "dtype": "float32"}""");
        Assert.Equal(4, h.Model.NHeads);
    }

    [Theory]
    [InlineData("""{"n_layer": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4}""", "'n_layer'")]
    [InlineData("""{"n_layers": 2, "d_model": 10, "n_heads": 3, "d_vocab": 10, "n_ctx": 4, "act_fn": "gelu_new"}""", "d_model 10 is not divisible by n_heads 3")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "n_ctx": 4}""", "has no d_vocab")]
    [InlineData("""{"n_layers": 0, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4, "act_fn": "gelu_new"}""", "n_layers")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4, "act_fn": "relu"}""", "act_fn = relu is not supported by the trainer")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4, "act_fn": "gelu_new", "normalization_type": "RMS"}""", "normalization_type = RMS is not supported by the trainer")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4, "act_fn": "gelu_new", "positional_embedding_type": "rotary"}""", "positional_embedding_type = rotary")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4, "act_fn": "gelu_new", "n_key_value_heads": 1}""", "n_key_value_heads = 1")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4, "act_fn": "gelu_new", "use_local_attn": true}""", "use_local_attn")]
    [InlineData("""{"n_layers": 2, "d_model": "8", "n_heads": 2, "d_vocab": 10, "n_ctx": 4}""", "d_model = \"8\": it must be an integer")]
    [InlineData("""{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_vocab": 10, "n_ctx": 4}""", "has no act_fn")]
    [InlineData("""[1, 2]""", "is not a JSON object")]
    [InlineData("""{"n_layers": 2,""", "is not valid JSON")]
    public void BadConfigsAreOneLineErrorsNamingTheKey(string json, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => TrainingModelConfig.Parse(json, "cfg.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("cfg.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void InitialisationIsTransformerLensGpt2InitAndDeterministicForASeed()
    {
        var spec = TrainingModelConfig.Parse("""{"n_layers": 2, "d_model": 64, "n_heads": 4, "d_vocab": 300, "n_ctx": 16, "act_fn": "gelu_new"}""");
        var a = TrainableModel.Initialize(spec, seed: 7);
        var b = TrainableModel.Initialize(spec, seed: 7);
        var c = TrainableModel.Initialize(spec, seed: 8);
        foreach (var ((name, ta), (_, tb)) in a.Weights.Named().Zip(b.Weights.Named())) Assert.Equal(ta.Data, tb.Data);
        Assert.NotEqual(a.Weights.W_E.Data, c.Weights.W_E.Data);
        foreach (var (name, t) in a.Weights.Named())
        {
            string leaf = name[(name.LastIndexOf('.') + 1)..];
            if (name == "unembed.W_U") continue;
            if (leaf.StartsWith("W_"))
            {
                double mean = t.Data.Average(x => (double)x), std = Math.Sqrt(t.Data.Average(x => (double)x * x));
                Assert.True(Math.Abs(mean) < 0.02 && Math.Abs(std - spec.InitializerRange) < 0.1 * spec.InitializerRange, $"{name}: mean {mean}, std {std}");
            }
            else Assert.All(t.Data, x => Assert.Equal(leaf == "w" ? 1f : 0f, x)); // biases 0, LayerNorm weights 1
        }
        // Tied: W_U = W_Eᵀ.
        for (int v = 0; v < 300; v += 37)
            for (int i = 0; i < 64; i += 7) Assert.Equal(a.Weights.W_E[v, i], a.Weights.W_U[i, v]);
    }
}
