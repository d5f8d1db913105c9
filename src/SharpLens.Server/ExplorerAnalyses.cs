using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Analysis.Predictions;
using SharpLens.Analysis.Weights;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Reports;
using SharpLens.Tokenization;

namespace SharpLens.Server;

/// <summary>
/// The explorer's interactive answers: each is one library call (test_prompt, direct logit attribution, an attention
/// pattern, a neuron's activations) turned into JSON data plus the reports' figure HTML, so the page draws exactly
/// what a report would.
/// </summary>
internal static class ExplorerAnalyses
{
    /// <summary>TransformerLens' test_prompt: tokens, top-k, and the rank of each answer.</summary>
    public static JsonObject Predict(HookedTransformer model, ExplorerRequest request)
    {
        var ids = request.Prompt();
        int k = request.Int("top_k", 1, 100, fallback: 10);
        var answerIds = request.Strings("answers").Select(a => (model.Tokenizer ?? throw model.NoTokenizerError("\"answers\" as text")).ToSingleToken(a)).ToArray();
        var logits = model.Run(TokenBatch.Single(ids), new ForwardOptions { Logits = LogitsMode.Final }).Data;
        var prediction = NextTokenPrediction.FromLogits(model, ids, logits, k, null);
        var json = prediction.ToJson();
        var answers = new JsonArray();
        foreach (int id in answerIds)
        {
            var a = NextTokenPrediction.FromLogits(model, ids, logits, 0, id).Answer!;
            answers.Add(new JsonObject { ["token_id"] = a.TokenId, ["token"] = a.Token, ["rank"] = a.Rank, ["logit"] = a.Logit, ["prob"] = a.Prob });
        }
        json["answers"] = answers;
        var first = answerIds.Length > 0 ? answers[0]! : null;
        var table = new TopKTable([new TopKRow(string.Concat(prediction.StrTokens), prediction.TopK.Select(t => new TopKEntry(t.Token, t.Logit, t.Prob)).ToList(),
            first?["token"]?.ToString(), first?["rank"]?.GetValue<int>())]) { Title = $"Top {k} next tokens" };
        json["figures"] = Figures(("predict-topk", table));
        return json;
    }

    /// <summary>Logit lens, per-layer and per-head direct logit attribution of the answer pair, and the top heads.</summary>
    public static JsonObject Attribute(HookedTransformer model, ExplorerRequest request)
    {
        var data = request.Input(alignedLengths: false, corruptedOptional: true);
        var result = AnalysisResult.Attribute(model, data, topNeurons: 20, out var dla);
        var top = dla.Heads.TopByMagnitude(10).Select(c => (JsonNode?)new JsonObject
        {
            ["layer"] = c.Row, ["head"] = c.Col, ["name"] = new HeadId(c.Row, c.Col).ToString(), ["value"] = c.Value,
        }).ToArray();
        result["top_heads"] = new JsonArray(top);
        result["figures"] = Figures(
            ("dla-logit-lens", GridFigure(dla.LogitLens)), ("dla-layers", GridFigure(dla.Layers)),
            ("dla-heads", GridFigure(dla.Heads)), ("dla-neurons", GridFigure(dla.TopNeurons)));
        return result;
    }

    /// <summary>A head's attention pattern on the prompt (the reports' CircuitsVis-style view) and its OV summary.</summary>
    public static JsonObject Head(HookedTransformer model, ExplorerRequest request)
    {
        var id = request.Head();
        var (layer, head) = id;
        var ids = request.Prompt();
        var figure = AttentionView(model, ids, id);
        // The weights' view of the head (engineer H's FactoredMatrix API): OV and QK spectra, copying score, and what
        // the head writes when the final position attends to its most-attended token.
        var ov = HeadCircuits.OV(model, layer, head);
        var qk = HeadCircuits.QK(model, layer, head);
        var pattern = figure.Heads[0].Pattern;
        int last = ids.Length - 1, source = Enumerable.Range(0, ids.Length).MaxBy(k => pattern[last, k]);
        var readout = OvReadout.For(model, layer, head, [ids[source]], k: 5)[0];
        static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(v => (JsonNode?)v).ToArray());
        static JsonArray Tokens(IEnumerable<TokenValue> values) => new(values.Select(t => (JsonNode?)new JsonObject { ["token"] = t.Token, ["value"] = t.Value }).ToArray());
        return new JsonObject
        {
            ["layer"] = layer, ["head"] = head, ["name"] = figure.Heads[0].Name,
            ["str_tokens"] = new JsonArray(figure.Tokens.Select(t => (JsonNode?)t).ToArray()),
            ["pattern"] = Matrix(pattern),
            ["ov"] = new JsonObject
            {
                ["frobenius_norm"] = ov.Norm(), ["singular_values"] = Numbers(ov.S),
                ["qk_frobenius_norm"] = qk.Norm(), ["qk_singular_values"] = Numbers(qk.S),
                ["copying_score"] = CopyingScore.Of(model, layer, head).Score,
                ["readout"] = new JsonObject { ["position"] = source, ["source"] = readout.Source, ["top"] = Tokens(readout.Top), ["bottom"] = Tokens(readout.Bottom) },
            },
            ["figures"] = Figures(("head-attention", figure)),
        };
    }

    /// <summary>The attention pattern (attn.hook_pattern) of <paramref name="head"/> on one prompt.</summary>
    public static AttentionFigure AttentionView(HookedTransformer model, int[] ids, HeadId head)
    {
        var figure = new AttentionFigure(StrTokens(model, ids)) { Title = $"Attention pattern of {head}" };
        return figure.Add(new AttentionHead(head, ComponentActivations.HeadPatterns(model, ids, [head])[0]));
    }

    /// <summary>One MLP neuron's activation (mlp.hook_post) at every position of the prompt.</summary>
    public static JsonObject Neuron(HookedTransformer model, ExplorerRequest request)
    {
        var id = request.Neuron();
        var (layer, neuron) = id;
        var ids = request.Prompt();
        var figure = NeuronView(model, ids, id);
        var values = figure.Prompts[0].Activations;
        return new JsonObject
        {
            ["layer"] = layer, ["neuron"] = neuron, ["name"] = figure.Neurons[0],
            ["str_tokens"] = new JsonArray(figure.Prompts[0].Tokens.Select(t => (JsonNode?)t).ToArray()),
            ["activations"] = new JsonArray(Enumerable.Range(0, ids.Length).Select(p => (JsonNode?)values[0, p]).ToArray()),
            ["figures"] = Figures(("neuron-text", figure)),
        };
    }

    /// <summary>Text coloured by one neuron's activation (mlp.hook_post) on one prompt.</summary>
    public static NeuronTextFigure NeuronView(HookedTransformer model, int[] ids, NeuronId neuron)
    {
        var activations = ComponentActivations.NeuronActivations(model, TokenBatch.Single(ids), [neuron])[0][0];
        var figure = new NeuronTextFigure([neuron]) { Title = $"Activation of {neuron} (mlp.hook_post)" };
        return figure.Add(new NeuronTextPrompt(StrTokens(model, ids), [activations]));
    }

    /// <summary>A grid drawn as the reports draw it (a line for one row, else a heatmap).</summary>
    public static Figure GridFigure(Grid grid, string? key = null) => GridPlotter.GridFigures(grid, key ?? grid.Title ?? "").First().Figure;

    /// <summary>[{id, kind, html}] for the page: the reports' own HTML fragments (a div and the script that draws it).</summary>
    public static JsonArray Figures(params (string Id, Figure Figure)[] figures) =>
        new(figures.Select(f => (JsonNode?)new JsonObject { ["id"] = f.Id, ["kind"] = f.Figure.Kind, ["html"] = HtmlRenderer.Fragment(f.Figure, f.Id) }).ToArray());

    static string[] StrTokens(HookedTransformer model, int[] ids) => model.Tokenizer?.ToStrTokens(ids) ?? ids.Select(i => $"<{i}>").ToArray();

    static JsonArray Matrix(double[,] m) => new(Enumerable.Range(0, m.GetLength(0))
        .Select(r => (JsonNode?)new JsonArray(Enumerable.Range(0, m.GetLength(1)).Select(c => (JsonNode?)m[r, c]).ToArray())).ToArray());
}
