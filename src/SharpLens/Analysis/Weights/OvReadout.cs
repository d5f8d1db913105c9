using SharpLens.Model;

namespace SharpLens.Analysis.Weights;

/// <summary>One output token and its logit in a row of a vocabulary-sized circuit.</summary>
/// <param name="TokenId">the token's id</param>
/// <param name="Token">its text (null when the model has no tokenizer)</param>
/// <param name="Value">the circuit's value (a direct logit contribution)</param>
public sealed record TokenValue(int TokenId, string? Token, double Value);

/// <summary>
/// What a head writes to the logits when it attends to one source token: row <paramref name="SourceId"/> of the head's
/// full OV circuit (W_E[s]·W_V·W_O·W_U), with its top and bottom tokens.
/// </summary>
/// <param name="Layer">the head's layer</param>
/// <param name="Head">the head's index</param>
/// <param name="SourceId">the attended token</param>
/// <param name="Source">its text, or null</param>
/// <param name="Top">the k most boosted output tokens, largest first</param>
/// <param name="Bottom">the k most suppressed output tokens, smallest first</param>
/// <param name="Logits">the whole row [d_vocab]</param>
public sealed record OvReadout(int Layer, int Head, int SourceId, string? Source, IReadOnlyList<TokenValue> Top,
    IReadOnlyList<TokenValue> Bottom, double[] Logits)
{
    /// <summary>The readout for each source token; cost O(|sources|·d_model·d_vocab), the full circuit is never formed.</summary>
    /// <param name="model">the model</param>
    /// <param name="layer">the head's layer</param>
    /// <param name="head">the head's index</param>
    /// <param name="sources">attended token ids</param>
    /// <param name="k">how many top and bottom tokens to keep</param>
    public static IReadOnlyList<OvReadout> For(HookedTransformer model, int layer, int head, IReadOnlyList<int> sources, int k = 10)
    {
        WeightMatrices.RequireHead(model, layer, head);
        foreach (int s in sources) WeightMatrices.RequireToken(model, s);
        if (k <= 0) throw new InvalidInputException($"top-k must be positive, got {k}");
        var ov = HeadCircuits.OV(model, layer, head);
        int d = model.Config.DModel;
        var result = new List<OvReadout>();
        foreach (int s in sources)
        {
            // (W_E[s]·OV) is one d_model row; then one row-by-W_U product.
            var embedding = new double[d];
            for (int i = 0; i < d; i++) embedding[i] = model.Weights.W_E.Data[s * d + i];
            var written = ov.T.Multiply(embedding);     // (W_E[s]·OV)ᵀ = OVᵀ·W_E[s]ᵀ
            var logits = Unembed(model, written);
            result.Add(new OvReadout(layer, head, s, TokenText(model, s), TopTokens(model, logits, k, largest: true),
                TopTokens(model, logits, k, largest: false), logits));
        }
        return result;
    }

    /// <summary>x·W_U without bias, in double: [d_vocab].</summary>
    internal static double[] Unembed(HookedTransformer model, ReadOnlySpan<double> x)
    {
        int d = model.Config.DModel, vocab = model.Config.DVocab;
        var wU = model.Weights.W_U.Data;
        var logits = new double[vocab];
        var row = new double[vocab];
        for (int i = 0; i < d; i++)
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertChecked<float, double>(wU.AsSpan(i * vocab, vocab), row);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(row, x[i], logits, logits);
        }
        return logits;
    }

    internal static string? TokenText(HookedTransformer model, int id) => model.Tokenizer?.ToStrTokens([id])[0];

    /// <summary>The k largest (or smallest) entries of a vocabulary row, ties broken by token id.</summary>
    internal static IReadOnlyList<TokenValue> TopTokens(HookedTransformer model, double[] values, int k, bool largest)
    {
        var order = Enumerable.Range(0, values.Length);
        var sorted = largest ? order.OrderByDescending(i => values[i]).ThenBy(i => i) : order.OrderBy(i => values[i]).ThenBy(i => i);
        return sorted.Take(k).Select(i => new TokenValue(i, TokenText(model, i), values[i])).ToList();
    }
}
