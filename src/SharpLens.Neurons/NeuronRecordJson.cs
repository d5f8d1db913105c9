using System.Text.Json.Nodes;

namespace SharpLens.Neurons;

/// <summary>The JSON form of a neuron record (<c>sharplens neurons show --json</c>): top examples as document, position,
/// activation and text, the statistics, histogram and direct logit effect, and the index's provenance.</summary>
public static class NeuronRecordJson
{
    /// <summary>A JSON object holding everything in <paramref name="record"/>.</summary>
    public static JsonObject ToJson(this NeuronRecord record)
    {
        var s = record.Statistics;
        var p = record.Provenance;
        return new JsonObject
        {
            ["neuron"] = record.Id.ToString(), ["layer"] = record.Id.Layer, ["neuron_index"] = record.Id.Neuron,
            ["hook"] = $"blocks.{record.Id.Layer}.mlp.hook_post",
            ["statistics"] = new JsonObject
            {
                ["count"] = s.Count, ["mean"] = N(s.Mean), ["std"] = N(s.Std), ["min"] = N(s.Min), ["max"] = N(s.Max),
                ["fraction_positive"] = N(s.FractionPositive),
                ["quantiles"] = new JsonObject(s.Quantiles.Select(q => KeyValuePair.Create(q.Key, N(q.Value)))),
            },
            ["histogram"] = new JsonObject
            {
                ["edges"] = new JsonArray(record.Histogram.Edges.Select(e => N(e)).ToArray()),
                ["counts"] = new JsonArray(record.Histogram.Counts.Select(c => (JsonNode?)c).ToArray()),
            },
            ["top_examples"] = new JsonArray(record.TopExamples.Select(e => (JsonNode?)new JsonObject
            {
                ["rank"] = e.Rank, ["activation"] = e.Activation, ["document"] = e.DocumentName, ["document_id"] = e.DocumentId,
                ["window_id"] = e.WindowId, ["start_token"] = e.StartToken, ["position"] = e.Position, ["token"] = e.Tokens[e.Position],
                ["text"] = string.Concat(e.Tokens.Skip(1)),
                ["tokens"] = new JsonArray(e.Tokens.Select(t => (JsonNode?)t).ToArray()),
                ["token_ids"] = new JsonArray(e.TokenIds.Select(t => (JsonNode?)t).ToArray()),
                ["activations"] = new JsonArray(e.Activations.Select(a => (JsonNode?)a).ToArray()),
            }).ToArray()),
            ["promotes"] = Effects(record.Promoted),
            ["suppresses"] = Effects(record.Suppressed),
            ["index"] = new JsonObject
            {
                ["model_id"] = p.ModelId, ["model_revision"] = p.ModelRevision, ["model_hash"] = p.ModelHash, ["corpus"] = p.Corpus, ["corpus_hash"] = p.CorpusHash,
                ["context"] = p.Context, ["top_k"] = p.TopK, ["windows_done"] = p.WindowsDone, ["shard_windows"] = p.ShardWindows,
                ["shards"] = p.Shards, ["complete"] = p.Complete, ["sharplens_version"] = p.SharpLensVersion,
            },
        };
    }

    private static JsonArray Effects(IReadOnlyList<LogitEffect> effects) =>
        new(effects.Select(e => (JsonNode?)new JsonObject { ["token"] = e.Token, ["token_id"] = e.TokenId, ["effect"] = e.Effect }).ToArray());

    private static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
}
