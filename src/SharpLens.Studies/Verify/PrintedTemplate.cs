using System.Text.Json.Nodes;
using SharpLens.Analysis;

namespace SharpLens.Studies.Verify;

/// <summary>
/// A run's own printed numbers in the notebook's <c>notebook_printed</c> format (the inverse of
/// <see cref="PrintedNumbers"/>), so that <c>study reference</c> writes a complete reference: experiment 1 is the group
/// with "experiment": 1, experiment 2 every group with "experiment": 2; test_prompt is experiment 1's first test prompt
/// and neuron_activations its named neurons on prompt 0.
/// </summary>
internal static class PrintedTemplate
{
    /// <summary>The notebook_printed object of <paramref name="results"/> (keys only for what the run computed).</summary>
    public static JsonObject FromResults(StudyResults results)
    {
        var printed = new JsonObject();
        string? exp1 = results.Groups.FirstOrDefault(kv => kv.Value?["info"]?["experiment"]?.ToString() == "1").Key;
        if (exp1 is not null)
        {
            var info = results.Get(exp1, "info");
            if (results.Get(exp1, StudyAnalyses.ModelCheck) is JsonObject mc)
            {
                if (mc["predictions"] is JsonArray p) printed["exp1_tokens"] = new JsonArray(p.Select(x => x?["tokens"]?.DeepClone()).ToArray());
                printed["exp1_logit_diff_per_prompt"] = mc["clean_per_prompt"]?.DeepClone();
                printed["exp1_logit_diff_mean"] = mc["clean_logit_diff"]?.DeepClone();
                printed["exp1_corrupted_logit_diff_mean"] = mc["corrupted_logit_diff"]?.DeepClone();
            }
            if (info?["str_tokens"]?[0] is JsonNode s) printed["exp1_str_tokens_prompt0"] = s.DeepClone();
            if (results.GridAt(exp1, StudyAnalyses.LayerAttribution) is Grid layers) printed["exp1_dla_reconstructed_mean"] = layers.Values.Data.Sum(v => (double)v);
            if (results.GridAt(exp1, StudyAnalyses.HeadAttribution) is Grid heads) printed["exp1_top3_head_dla"] = Top3(heads);
            if (results.Get(exp1, StudyTestPrompts.Path)?[0] is JsonObject tp && tp["answer"] is JsonObject a)
                printed["test_prompt"] = new JsonObject
                {
                    ["prompt"] = tp["prompt"]?.DeepClone(), ["answer"] = a["token"]?.DeepClone(), ["answer_rank"] = a["rank"]?.DeepClone(),
                    ["answer_logit_centered"] = a["logit"]?.DeepClone(), ["answer_prob_percent"] = a["prob"]!.GetValue<double>() * 100,
                    ["top10"] = new JsonArray(((JsonArray)tp["top_k"]!).Select(t => (JsonNode?)new JsonArray(
                        t!["token"]!.DeepClone(), t["logit"]!.DeepClone(), t["prob"]!.GetValue<double>() * 100)).ToArray()),
                };
            if (results.Get(exp1, StudyNamedNeurons.Path)?["neurons"] is JsonArray neurons && neurons.Count > 0)
                printed["neuron_activations"] = new JsonObject(neurons.Select(n => KeyValuePair.Create(n!["name"]!.ToString(), (JsonNode?)new JsonObject
                {
                    ["text"] = info?["prompts"]?[0]?.DeepClone(), ["tokens"] = info?["str_tokens"]?[0]?.DeepClone(),
                    ["post_gelu_activation"] = n["activations"]?[0]?.DeepClone(),
                })));
        }
        var exp2 = results.Groups.Where(kv => kv.Value?["info"]?["experiment"]?.ToString() == "2").Select(kv => kv.Key).ToList();
        JsonObject PerGroup(Func<string, JsonNode?> value) =>
            new(exp2.Select(g => KeyValuePair.Create(g, value(g))).Where(kv => kv.Value is not null));
        if (exp2.Count > 0)
        {
            printed["exp2_logit_diff_per_prompt"] = PerGroup(g => results.Get(g, "model_check/clean_per_prompt")?.DeepClone());
            printed["exp2_logit_diff_mean"] = PerGroup(g => results.Get(g, "model_check/clean_logit_diff")?.DeepClone());
            printed["exp2_top3_head_dla"] = PerGroup(g => results.GridAt(g, StudyAnalyses.HeadAttribution) is Grid h ? Top3(h) : null);
        }
        foreach (var key in printed.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList()) printed.Remove(key);
        return printed;
    }

    private static JsonArray Top3(Grid heads) => new(heads.Values.Data.OrderByDescending(v => v).Take(3).Select(v => (JsonNode?)(double)v).ToArray());
}
