using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Tests.Analysis.Attribution;

/// <summary>Random GPT-2-shaped models built in code (unprocessed: LayerNorm weights and biases present).</summary>
public static class RandomModel
{
    public static HookedTransformer Create(ModelConfig cfg, int seed, bool layerNormWeights = true)
    {
        var rng = new Random(seed);
        Tensor N(float std, params int[] shape)
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Length; i++)
            {
                double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
                t.Data[i] = (float)(std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
            return t;
        }
        Tensor LnW() { var t = N(0.2f, cfg.DModel); for (int i = 0; i < t.Length; i++) t.Data[i] += 1; return t; }
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead;
        float sd = 1f / MathF.Sqrt(d);
        var blocks = Enumerable.Range(0, cfg.NLayers).Select(_ => new BlockWeights
        {
            Ln1W = layerNormWeights ? LnW() : null, Ln1B = layerNormWeights ? N(0.1f, d) : null,
            W_Q = N(sd, h, d, dh), W_K = N(sd, h, d, dh), W_V = N(sd, h, d, dh),
            b_Q = N(0.1f, h, dh), b_K = N(0.1f, h, dh), b_V = N(0.1f, h, dh),
            W_O = N(1f / MathF.Sqrt(h * dh), h, dh, d), b_O = N(0.1f, d),
            Ln2W = layerNormWeights ? LnW() : null, Ln2B = layerNormWeights ? N(0.1f, d) : null,
            W_in = N(sd, d, cfg.DMlp), b_in = N(0.1f, cfg.DMlp),
            W_out = N(1f / MathF.Sqrt(cfg.DMlp), cfg.DMlp, d), b_out = N(0.1f, d),
        }).ToArray();
        var weights = new TransformerWeights
        {
            W_E = N(0.5f, cfg.DVocab, d), W_pos = N(0.3f, cfg.NCtx, d), Blocks = blocks,
            LnFinalW = layerNormWeights ? LnW() : null, LnFinalB = layerNormWeights ? N(0.1f, d) : null,
            W_U = N(sd, d, cfg.DVocab), b_U = N(0.1f, cfg.DVocab),
        };
        return new HookedTransformer(cfg, weights, weightsProcessed: false);
    }
}
