using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Neurons.Indexing;

/// <summary>
/// A neuron's direct effect on the logits: its output weight through the unembedding, W_out[n] · W_U (TransformerLens'
/// <c>model.W_out[layer, n] @ model.W_U</c>; with processed weights ln_final's scale is folded into W_U, its
/// per-prompt normalisation is ignored). Computed in blocks of neurons so memory stays at a few tens of MB.
/// </summary>
internal static class DirectLogitEffect
{
    /// <summary>For every neuron of <paramref name="layer"/>: the <paramref name="count"/> tokens it most promotes and most suppresses.</summary>
    public static (int Token, float Effect)[][] TopTokens(HookedTransformer model, int layer, int count, out (int Token, float Effect)[][] suppressed)
    {
        var wOut = model.Weights.Blocks[layer].W_out; // [d_mlp, d_model]
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
