using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// A neuron's direct effect on the logits: what one unit of its activation (mlp.hook_post) adds to them through W_out
/// and W_U alone, ignoring ln_final's scale and every later layer (as TransformerLens'
/// <c>W_out[layer, neuron] @ W_U</c>): on one logit difference, or the tokens it most promotes and suppresses.
/// </summary>
public static class NeuronDirectEffect
{
    /// <summary>W_out[<paramref name="layer"/>, <paramref name="neuron"/>, :] · (W_U[:, correct] - W_U[:, wrong]).</summary>
    public static double OnLogitDiff(HookedTransformer model, int layer, int neuron, int correct, int wrong)
    {
        var cfg = model.Config;
        new NeuronId(layer, neuron).RequireIn(cfg);
        foreach (int t in new[] { correct, wrong })
            if (t < 0 || t >= cfg.DVocab) throw new InvalidInputException($"token id {t} is outside the vocabulary (0..{cfg.DVocab - 1})");
        int d = cfg.DModel, vocab = cfg.DVocab;
        var wOut = model.RequireMlp(layer).W_out.Data.AsSpan(neuron * d, d);
        var wU = model.Weights.W_U.Data;
        double direct = 0;
        for (int i = 0; i < d; i++) direct += wOut[i] * ((double)wU[i * vocab + correct] - wU[i * vocab + wrong]);
        return direct;
    }

    /// <summary>
    /// For every neuron of <paramref name="layer"/>: the <paramref name="count"/> tokens its output most promotes and
    /// most suppresses directly, W_out[n] · W_U (TransformerLens' <c>model.W_out[layer, n] @ model.W_U</c>; with
    /// processed weights ln_final's scale is folded into W_U, its per-prompt normalisation is ignored). Computed in
    /// blocks of neurons so memory stays at a few tens of MB; the neuron index stores these on every neuron's page.
    /// </summary>
    /// <param name="model">the model</param>
    /// <param name="layer">the MLP layer</param>
    /// <param name="count">tokens per neuron and direction (at most the vocabulary)</param>
    /// <param name="suppressed">[d_mlp] of the <paramref name="count"/> most negative (token, effect), most negative first</param>
    /// <returns>[d_mlp] of the <paramref name="count"/> most positive (token, effect), largest first; ties by lower token id</returns>
    public static (int Token, float Effect)[][] TopTokens(HookedTransformer model, int layer, int count, out (int Token, float Effect)[][] suppressed)
    {
        ArgumentNullException.ThrowIfNull(model);
        new NeuronId(layer, 0).RequireIn(model.Config);
        if (count < 1) throw new InvalidInputException($"the number of tokens per neuron must be at least 1, got {count}");
        var wOut = model.RequireMlp(layer).W_out; // [d_mlp, d_model]
        int dMlp = wOut.Dim(0), dModel = wOut.Dim(1), vocab = model.Config.DVocab;
        count = Math.Min(count, vocab);
        var packedU = PackedMatrix.Pack(model.Weights.W_U.Data, dModel, vocab);
        var promoted = new (int, float)[dMlp][];
        suppressed = new (int, float)[dMlp][];
        int block = Math.Max(1, Math.Min(dMlp, (16 << 20) / vocab));
        var logits = new float[block * vocab];
        for (int n0 = 0; n0 < dMlp; n0 += block)
        {
            int rows = Math.Min(block, dMlp - n0);
            Gemm.Multiply(wOut.Data.AsSpan(n0 * dModel, rows * dModel), packedU, logits.AsSpan(0, rows * vocab), rows);
            var down = suppressed;
            ParallelRows.For(rows, (long)rows * vocab, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    var row = logits.AsSpan(r * vocab, vocab);
                    promoted[n0 + r] = Extremes(row, count, top: true);
                    down[n0 + r] = Extremes(row, count, top: false);
                }
            });
        }
        return promoted;
    }

    /// <summary>The <paramref name="count"/> largest (or smallest) entries, best first, ties by lower token id.</summary>
    private static (int, float)[] Extremes(ReadOnlySpan<float> row, int count, bool top)
    {
        var best = new List<(int Token, float Value)>(count + 1);
        float sign = top ? 1 : -1;
        for (int t = 0; t < row.Length; t++)
        {
            float v = row[t] * sign;
            if (best.Count == count && v <= best[^1].Value) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Value < v) at--;
            best.Insert(at, (t, v));
            if (best.Count > count) best.RemoveAt(count);
        }
        return best.Select(b => (b.Token, b.Value * sign)).ToArray();
    }
}
