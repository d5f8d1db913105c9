using System.Text.Json.Nodes;
using SharpLens.Model;
using SharpLens.Tokenization;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Predictions;

/// <summary>One candidate next token with its logit and probability.</summary>
public sealed record TokenPrediction(int TokenId, string Token, float Logit, float Prob);

/// <summary>The answer token's place in the distribution: rank 0 is the top prediction.</summary>
public sealed record AnswerPrediction(int TokenId, string Token, int Rank, float Logit, float Prob);

/// <summary>
/// TransformerLens' test_prompt as data: the prompt's tokens, the top-k next tokens and the answer's
/// rank, logit and probability at the final position.
/// </summary>
public sealed record NextTokenPrediction(int[] Tokens, string[] StrTokens, IReadOnlyList<TokenPrediction> TopK, AnswerPrediction? Answer)
{
    /// <param name="tokens">[pos] token ids, used as given.</param>
    /// <param name="answerId">A token whose rank, logit and probability to report, or null.</param>
    /// <param name="model">The model whose weights are used.</param>
    /// <param name="topK">How many of the most likely next tokens to list.</param>
    public static NextTokenPrediction Run(HookedTransformer model, int[] tokens, int topK = 10, int? answerId = null)
    {
        var logits = model.Run(TokenBatch.Single(tokens), new ForwardOptions { Logits = LogitsMode.Final }).Data;
        return FromLogits(model, tokens, logits, topK, answerId);
    }

    /// <param name="logits">[d_vocab] at the final position.</param>
    /// <param name="topK">How many of the most likely next tokens to list.</param>
    /// <param name="answerId">A token whose rank, logit and probability to report, or null.</param>
    /// <param name="model">The model that produced the logits (its tokenizer labels tokens).</param>
    /// <param name="tokens">[pos] the prompt's token ids.</param>
    public static NextTokenPrediction FromLogits(HookedTransformer model, int[] tokens, float[] logits, int topK, int? answerId)
    {
        var probs = new float[logits.Length];
        Kernels.Softmax(logits, probs);
        string Str(int id) => model.Tokenizer?.ToStrTokens([id])[0] ?? $"<{id}>";
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).Take(Math.Min(topK, logits.Length));
        var top = order.Select(i => new TokenPrediction(i, Str(i), logits[i], probs[i])).ToList();
        AnswerPrediction? answer = null;
        if (answerId is int a)
        {
            if ((uint)a >= (uint)logits.Length) throw new InvalidInputException($"answer id {a} is outside the vocabulary (0..{logits.Length - 1})");
            int rank = 0;
            foreach (float l in logits) if (l > logits[a]) rank++;
            answer = new AnswerPrediction(a, Str(a), rank, logits[a], probs[a]);
        }
        string[] strTokens = model.Tokenizer?.ToStrTokens(tokens) ?? tokens.Select(t => $"<{t}>").ToArray();
        return new NextTokenPrediction(tokens, strTokens, top, answer);
    }

    /// <summary>The prediction as JSON: tokens, str_tokens, top_k (id, token, logit, prob) and the answer's rank when given.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["tokens"] = new JsonArray(Tokens.Select(t => (JsonNode?)t).ToArray()),
            ["str_tokens"] = new JsonArray(StrTokens.Select(t => (JsonNode?)t).ToArray()),
            ["top_k"] = new JsonArray(TopK.Select(t => (JsonNode?)new JsonObject
            {
                ["token_id"] = t.TokenId, ["token"] = t.Token, ["logit"] = t.Logit, ["prob"] = t.Prob,
            }).ToArray()),
        };
        if (Answer is { } a)
            json["answer"] = new JsonObject { ["token_id"] = a.TokenId, ["token"] = a.Token, ["rank"] = a.Rank, ["logit"] = a.Logit, ["prob"] = a.Prob };
        return json;
    }
}
