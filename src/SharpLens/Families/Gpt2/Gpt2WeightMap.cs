using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Families.Gpt2;

/// <summary>
/// The one table between Hugging Face GPT-2 keys and TransformerLens parameter names. HF's Conv1D stores
/// weights as [in, out] (x·W), which is already TransformerLens' orientation; only the fused c_attn is split by head.
/// Every key is checked for presence and shape, and every tensor of the checkpoint must be used
/// (<see cref="CheckpointTensors.RequireAllUsed"/>) so that a config.json that does not match its weights is an error, not half a model.
/// </summary>
public static partial class Gpt2WeightMap
{
    /// <summary>
    /// Tensors a GPT-2 checkpoint may hold that carry no weights: the causal-mask buffers <c>h.L.attn.bias</c> and
    /// <c>h.L.attn.masked_bias</c> that older transformers versions saved. They are ignored on purpose.
    /// </summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")]
    public static partial System.Text.RegularExpressions.Regex HarmlessExtras();

    /// <summary>Builds the TransformerLens-named weights of <paramref name="cfg"/> from Hugging Face GPT-2 keys.</summary>
    /// <param name="cfg">The model shape from config.json.</param>
    /// <param name="read">Reads a checkpoint tensor by key, or returns null when the key is absent.</param>
    /// <param name="source">File name used in error messages.</param>
    /// <param name="warn">Called with one-line warnings (NaN values), or null.</param>
    public static TransformerWeights Convert(ModelConfig cfg, Func<string, Tensor?> read, string source, Action<string>? warn = null)
    {
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead, v = cfg.DVocab;
        Tensor Get(string key, params int[] shape)
        {
            var t = read("transformer." + key) ?? read(key)
                ?? throw new InvalidCheckpointException($"missing tensor '{key}' in {source}: the checkpoint is incomplete or not a GPT-2 model");
            if (!t.Shape.AsSpan().SequenceEqual(shape))
                throw new InvalidCheckpointException($"tensor '{key}' in {source} has shape {t.ShapeString}, expected [{string.Join(", ", shape)}] for this config.json");
            if (warn is not null && CheckpointTensors.ContainsNaN(t)) warn($"tensor '{key}' in {source} contains NaN values");
            return t;
        }

        var wte = Get("wte.weight", v, d);
        var blocks = new BlockWeights[cfg.NLayers];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            string p = $"h.{l}.";
            var cAttn = Get(p + "attn.c_attn.weight", d, 3 * d);
            var cAttnBias = Get(p + "attn.c_attn.bias", 3 * d);
            blocks[l] = new BlockWeights
            {
                Ln1W = Get(p + "ln_1.weight", d), Ln1B = Get(p + "ln_1.bias", d),
                W_Q = SplitHeads(cAttn, 0, h, dh), W_K = SplitHeads(cAttn, 1, h, dh), W_V = SplitHeads(cAttn, 2, h, dh),
                b_Q = new Tensor(cAttnBias.Data[..d], h, dh),
                b_K = new Tensor(cAttnBias.Data[d..(2 * d)], h, dh),
                b_V = new Tensor(cAttnBias.Data[(2 * d)..], h, dh),
                W_O = Get(p + "attn.c_proj.weight", d, d).Reshape(h, dh, d),
                b_O = Get(p + "attn.c_proj.bias", d),
                Ln2W = Get(p + "ln_2.weight", d), Ln2B = Get(p + "ln_2.bias", d),
                W_in = Get(p + "mlp.c_fc.weight", d, cfg.DMlp), b_in = Get(p + "mlp.c_fc.bias", cfg.DMlp),
                W_out = Get(p + "mlp.c_proj.weight", cfg.DMlp, d), b_out = Get(p + "mlp.c_proj.bias", d),
            };
        }
        // GPT-2 ties the unembedding to the embedding; an explicit lm_head.weight [vocab, d] wins when present.
        var lmHead = read("lm_head.weight");
        if (lmHead is not null && !lmHead.Shape.AsSpan().SequenceEqual([v, d]))
            throw new InvalidCheckpointException($"tensor 'lm_head.weight' in {source} has shape {lmHead.ShapeString}, expected [{v}, {d}]");
        return new TransformerWeights
        {
            W_E = wte,
            W_pos = Get("wpe.weight", cfg.NCtx, d),
            Blocks = blocks,
            LnFinalW = Get("ln_f.weight", d), LnFinalB = Get("ln_f.bias", d),
            W_U = TransformerLensLayout.Transpose(lmHead ?? wte),
            b_U = Tensor.ZerosLongLived(v),
        };
    }

    // c_attn columns are [q | k | v], each d_model wide and ordered (head, d_head).
    private static Tensor SplitHeads(Tensor cAttn, int which, int heads, int dh)
    {
        int d = cAttn.Dim(0), width = cAttn.Dim(1);
        var w = Tensor.ZerosLongLived(heads, d, dh);
        for (int hh = 0; hh < heads; hh++)
            for (int i = 0; i < d; i++)
                cAttn.Data.AsSpan(i * width + which * d + hh * dh, dh).CopyTo(w.Data.AsSpan((hh * d + i) * dh));
        return w;
    }
}
