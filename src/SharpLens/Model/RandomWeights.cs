using SharpLens.Tensors;

namespace SharpLens.Model;

/// <summary>
/// Randomly initialised weights of any configuration (normal · std, norm weights near 1), for tests, benchmarks and
/// training from scratch when real weights are not at hand: learned or rotary positions, LayerNorm or RMSNorm,
/// multi-head or grouped-query attention with or without q/k norm, plain or gated MLPs, or none (attn_only).
/// </summary>
public static class RandomWeights
{
    /// <summary>Weights of <paramref name="cfg"/>'s shape drawn from N(0, <paramref name="std"/>²) with a fixed
    /// <paramref name="seed"/>, so the same arguments give the same model. For a GPT-2 configuration the draws are
    /// those of earlier releases (same seed, same weights).</summary>
    public static TransformerWeights Create(ModelConfig cfg, int seed = 0, float std = 0.02f)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        cfg.Validate();
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
        bool rms = cfg.UsesRmsNorm, normWeights = cfg.NormalizationType is "LN" or "RMS";
        Tensor? NormW(int n) => normWeights ? Ones(n) : null;
        Tensor? NormB(int n) => normWeights && !rms ? Normal(std, n) : null;

        int d = cfg.DModel, h = cfg.NHeads, kv = cfg.KeyValueHeads, dh = cfg.DHead;
        var wte = Normal(std, cfg.DVocab, d);
        var blocks = Enumerable.Range(0, cfg.NLayers).Select(_ =>
        {
            var block = new BlockWeights
            {
                Ln1W = NormW(d), Ln1B = NormB(d),
                W_Q = Normal(std, h, d, dh), W_K = Normal(std, kv, d, dh), W_V = Normal(std, kv, d, dh),
                b_Q = Normal(std, h, dh), b_K = Normal(std, kv, dh), b_V = Normal(std, kv, dh),
                W_O = Normal(std, h, dh, d), b_O = Normal(std, d),
            };
            if (cfg.UseQkNorm) { block.QNormW = Ones(dh); block.KNormW = Ones(dh); }
            if (cfg.AttnOnly) return block;
            block.Ln2W = NormW(d); block.Ln2B = NormB(d);
            block.W_in = Normal(std, d, cfg.DMlp);
            if (cfg.GatedMlp) block.W_gate = Normal(std, d, cfg.DMlp);
            block.b_in = Normal(std, cfg.DMlp);
            block.W_out = Normal(std, cfg.DMlp, d); block.b_out = Normal(std, d);
            return block;
        }).ToArray();
        var wU = Tensor.ZerosLongLived(d, cfg.DVocab);
        for (int v = 0; v < cfg.DVocab; v++)
            for (int i = 0; i < d; i++) wU.Data[i * cfg.DVocab + v] = wte.Data[v * d + i];
        return new TransformerWeights
        {
            W_E = wte, W_pos = cfg.IsRotary ? null : Normal(std, cfg.NCtx, d), Blocks = blocks,
            LnFinalW = NormW(d), LnFinalB = cfg.FinalRms ? null : NormB(d), W_U = wU, b_U = Tensor.ZerosLongLived(cfg.DVocab),
        };
    }

    /// <summary>A random model, processed as TransformerLens' from_pretrained would be.</summary>
    public static HookedTransformer CreateModel(ModelConfig cfg, int seed = 0, bool processed = true, Tokenization.Tokenizer? tokenizer = null)
    {
        var raw = Create(cfg, seed);
        var weights = processed ? WeightProcessing.Process(raw, WeightProcessingOptions.Default, inPlace: true, cfg) : raw;
        return new HookedTransformer(cfg, weights, processed, tokenizer);
    }
}
