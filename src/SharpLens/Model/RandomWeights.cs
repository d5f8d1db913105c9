using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>
/// Randomly initialised weights of any shape (normal · std, LayerNorm near 1), for tests and benchmarks
/// on GPT-2-small-shaped models when the real weights are not at hand.
/// </summary>
public static class RandomWeights
{
    /// <summary>Weights of <paramref name="cfg"/>'s shape drawn from N(0, <paramref name="std"/>²) with a fixed
    /// <paramref name="seed"/>, so the same arguments give the same model.</summary>
    public static TransformerWeights Create(ModelConfig cfg, int seed = 0, float std = 0.02f)
    {
        var random = new Random(seed);
        Tensor Normal(float scale, params int[] shape)
        {
            var t = Tensor.ZerosLongLived(shape);
            for (int i = 0; i < t.Length; i += 2)
            {
                // Box-Muller gives two normals per pair of uniforms.
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                double r = Math.Sqrt(-2 * Math.Log(u1));
                t.Data[i] = (float)(r * Math.Cos(2 * Math.PI * u2)) * scale;
                if (i + 1 < t.Length) t.Data[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2)) * scale;
            }
            return t;
        }
        Tensor Ones(int n) { var t = Normal(0.05f, n); for (int i = 0; i < n; i++) t.Data[i] += 1; return t; }

        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead;
        var wte = Normal(std, cfg.DVocab, d);
        var blocks = Enumerable.Range(0, cfg.NLayers).Select(_ => new BlockWeights
        {
            Ln1W = Ones(d), Ln1B = Normal(std, d),
            W_Q = Normal(std, h, d, dh), W_K = Normal(std, h, d, dh), W_V = Normal(std, h, d, dh),
            b_Q = Normal(std, h, dh), b_K = Normal(std, h, dh), b_V = Normal(std, h, dh),
            W_O = Normal(std, h, dh, d), b_O = Normal(std, d),
            Ln2W = Ones(d), Ln2B = Normal(std, d),
            W_in = Normal(std, d, cfg.DMlp), b_in = Normal(std, cfg.DMlp),
            W_out = Normal(std, cfg.DMlp, d), b_out = Normal(std, d),
        }).ToArray();
        var wU = Tensor.ZerosLongLived(d, cfg.DVocab);
        for (int v = 0; v < cfg.DVocab; v++)
            for (int i = 0; i < d; i++) wU.Data[i * cfg.DVocab + v] = wte.Data[v * d + i];
        return new TransformerWeights
        {
            W_E = wte, W_pos = Normal(std, cfg.NCtx, d), Blocks = blocks,
            LnFinalW = Ones(d), LnFinalB = Normal(std, d), W_U = wU, b_U = Tensor.ZerosLongLived(cfg.DVocab),
        };
    }

    /// <summary>A random model, processed as TransformerLens' from_pretrained would be.</summary>
    public static HookedTransformer CreateModel(ModelConfig cfg, int seed = 0, bool processed = true, Tokenization.Tokenizer? tokenizer = null)
    {
        var raw = Create(cfg, seed);
        var weights = processed ? WeightProcessing.Process(raw, WeightProcessingOptions.Default, inPlace: true) : raw;
        return new HookedTransformer(cfg, weights, processed, tokenizer);
    }
}
