using System.Text.Json.Nodes;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Model;

namespace SharpLens.Analysis;

/// <summary>
/// The result JSON of an analysis in the format <c>sharplens attribute</c> and <c>sharplens patch</c> write (and
/// <c>sharplens plot</c> redraws): one definition shared by the CLI, the explorer and its export.
/// </summary>
public static class AnalysisResult
{
    /// <summary>What every result starts with: the model, the clean prompts and the clean/corrupted logit differences.</summary>
    /// <param name="model">The model the analysis ran on (its name is recorded).</param>
    /// <param name="data">The analysis input (its clean prompts are recorded).</param>
    /// <param name="clean">[prompt] clean logit difference.</param>
    /// <param name="corrupted">[prompt] corrupted logit difference.</param>
    public static JsonObject Header(HookedTransformer model, AnalysisInput data, float[] clean, float[] corrupted) => new()
    {
        ["model"] = model.Config.ModelName,
        ["prompts"] = new JsonArray(data.CleanTexts.Select(t => (JsonNode?)t).ToArray()),
        ["clean_logit_diff"] = clean.Average(),
        ["corrupted_logit_diff"] = corrupted.Average(),
        ["clean_logit_diff_per_prompt"] = new JsonArray(clean.Select(v => (JsonNode?)v).ToArray()),
        ["corrupted_logit_diff_per_prompt"] = new JsonArray(corrupted.Select(v => (JsonNode?)v).ToArray()),
    };

    /// <summary>
    /// Direct logit attribution of the clean logit difference (one cached clean run, one corrupted run for the
    /// baseline) as a result: the header, then <c>logit_lens</c>, <c>layers</c>, <c>heads</c> and <c>top_neurons</c>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="data">Clean and corrupted prompts and the (correct, wrong) answer pair of each.</param>
    /// <param name="topNeurons">How many neurons <c>top_neurons</c> keeps (by |mean attribution|).</param>
    /// <param name="attribution">The attribution itself, for callers that draw or rank it.</param>
    public static JsonObject Attribute(HookedTransformer model, AnalysisInput data, int topNeurons, out LogitDiffAttribution attribution)
    {
        var (_, cache) = model.RunWithCache(data.Clean, DirectLogitAttribution.NeededHooks(model), LogitsMode.None);
        var dla = DirectLogitAttribution.ForLogitDiff(model, cache, data.Clean, data.Answers, topNeurons);
        var corrupted = LogitDiff.PerPrompt(model.Run(data.Corrupted, new ForwardOptions { Logits = LogitsMode.Final }), data.Answers);
        var result = Header(model, data, dla.MeasuredLogitDiff, corrupted);
        result["logit_lens"] = dla.LogitLens.ToJson();
        result["layers"] = dla.Layers.ToJson();
        result["heads"] = dla.Heads.ToJson();
        result["top_neurons"] = dla.TopNeurons.ToJson();
        attribution = dla;
        return result;
    }
}
