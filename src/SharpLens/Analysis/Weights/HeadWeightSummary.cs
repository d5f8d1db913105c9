using System.Numerics;
using System.Text.Json.Nodes;
using SharpLens.Model;

namespace SharpLens.Analysis.Weights;

/// <summary>
/// Everything the weights say about one head, as <c>sharplens ov</c> prints it: its OV and QK spectra, its copying
/// score, what it writes when attending to given tokens, its Q/K/V-composition partners, and (optionally) the direct
/// bigram preference of given source tokens between two answers.
/// </summary>
/// <param name="Model">the model's name</param>
/// <param name="Layer">the head's layer</param>
/// <param name="Head">the head's index</param>
/// <param name="OvSingularValues">singular values of OV = W_V·W_O [d_head]</param>
/// <param name="QkSingularValues">singular values of QK = W_Q·W_Kᵀ [d_head]</param>
/// <param name="OvNorm">‖OV‖_F</param>
/// <param name="QkNorm">‖QK‖_F</param>
/// <param name="Copying">the full OV circuit's copying score and eigenvalues</param>
/// <param name="Readouts">what the head writes for each attended token</param>
/// <param name="Composition">Q, K and V composition partners</param>
/// <param name="Bigrams">bigram preferences (empty unless sources and an answer pair were given)</param>
public sealed record HeadWeightSummary(string Model, int Layer, int Head, double[] OvSingularValues, double[] QkSingularValues,
    double OvNorm, double QkNorm, CopyingScore Copying, IReadOnlyList<OvReadout> Readouts, IReadOnlyList<HeadComposition> Composition,
    IReadOnlyList<BigramPreference> Bigrams)
{
    /// <summary>The head, <c>L7H11</c>.</summary>
    public HeadId Id => new(Layer, Head);

    /// <summary>Computes the summary; all inputs are validated before any vocabulary-sized work.</summary>
    /// <param name="model">the model</param>
    /// <param name="layer">the head's layer</param>
    /// <param name="head">the head's index</param>
    /// <param name="sources">attended tokens for the OV readout (may be empty)</param>
    /// <param name="bigramSources">source tokens for the bigram path (may be empty)</param>
    /// <param name="answers">(correct, wrong) answer ids for the bigram path; required when bigramSources is not empty</param>
    /// <param name="k">top/bottom tokens per readout</param>
    public static HeadWeightSummary Compute(HookedTransformer model, int layer, int head, IReadOnlyList<int> sources,
        IReadOnlyList<int> bigramSources, (int Correct, int Wrong)? answers, int k = 10)
    {
        WeightMatrices.RequireHead(model, layer, head);
        foreach (int t in sources.Concat(bigramSources)) WeightMatrices.RequireToken(model, t);
        if (bigramSources.Count > 0 && answers is null)
            throw new InvalidInputException("bigram sources need an answer pair: give two answers such as \"'re, are\"");
        if (answers is { } pair) { WeightMatrices.RequireToken(model, pair.Correct); WeightMatrices.RequireToken(model, pair.Wrong); }
        if (k <= 0) throw new InvalidInputException($"top-k must be positive, got {k}");

        var ov = HeadCircuits.OV(model, layer, head);
        var qk = HeadCircuits.QK(model, layer, head);
        var bigrams = answers is { } a && bigramSources.Count > 0
            ? BigramPath.Compare(model, bigramSources, a.Correct, a.Wrong, BigramSource.Embedding, k: k)
                .Concat(BigramPath.Compare(model, bigramSources, a.Correct, a.Wrong, BigramSource.EffectiveEmbedding, k: k)).ToList()
            : new List<BigramPreference>();
        return new HeadWeightSummary(model.Config.ModelName, layer, head, ov.S, qk.S, ov.Norm(), qk.Norm(),
            CopyingScore.Of(model, layer, head), OvReadout.For(model, layer, head, sources, k),
            HeadComposition.For(model, (layer, head), CompositionKind.Q, CompositionKind.K, CompositionKind.V), bigrams);
    }

    /// <summary>The summary as JSON (snake_case keys, heads written "layer.head").</summary>
    public JsonObject ToJson()
    {
        static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(v => (JsonNode?)v).ToArray());
        static JsonArray Complexes(IEnumerable<Complex> values) => new(values.Select(v => (JsonNode?)new JsonArray(v.Real, v.Imaginary)).ToArray());
        static JsonArray Tokens(IEnumerable<TokenValue> values) => new(values.Select(t =>
            (JsonNode?)new JsonObject { ["id"] = t.TokenId, ["token"] = t.Token, ["value"] = t.Value }).ToArray());
        static JsonArray Partners(IEnumerable<(int Layer, int Head, double Score)> values) => new(values.Select(p =>
            (JsonNode?)new JsonObject { ["head"] = new HeadId(p.Layer, p.Head).ToString(), ["score"] = p.Score }).ToArray());
        return new JsonObject
        {
            ["model"] = Model,
            ["head"] = Id.ToString(),
            ["ov"] = new JsonObject { ["singular_values"] = Numbers(OvSingularValues), ["norm"] = OvNorm },
            ["qk"] = new JsonObject { ["singular_values"] = Numbers(QkSingularValues), ["norm"] = QkNorm },
            ["copying"] = new JsonObject
            {
                ["score"] = Copying.Score,
                ["positive_fraction"] = Copying.PositiveFraction,
                ["eigenvalues"] = Complexes(Copying.Eigenvalues),
            },
            ["readouts"] = new JsonArray(Readouts.Select(r => (JsonNode?)new JsonObject
            {
                ["source_id"] = r.SourceId, ["source"] = r.Source, ["top"] = Tokens(r.Top), ["bottom"] = Tokens(r.Bottom),
            }).ToArray()),
            ["composition"] = new JsonObject(Composition.Select(c => KeyValuePair.Create(c.Kind.ToString(),
                (JsonNode?)new JsonObject { ["senders"] = Partners(c.Senders), ["receivers"] = Partners(c.Receivers) }))),
            ["bigrams"] = new JsonArray(Bigrams.Select(b => (JsonNode?)new JsonObject
            {
                ["source_id"] = b.SourceId, ["source"] = b.Source,
                ["via"] = b.Via == BigramSource.Embedding ? "embedding" : "effective_embedding",
                ["correct_id"] = b.CorrectId, ["wrong_id"] = b.WrongId,
                ["correct_logit"] = b.CorrectLogit, ["wrong_logit"] = b.WrongLogit, ["logit_diff"] = b.LogitDiff,
                ["top"] = Tokens(b.Top),
            }).ToArray()),
        };
    }
}
