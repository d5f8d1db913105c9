using System.Text.Json.Nodes;
using SharpLens.Studies;
using SharpLens.Studies.Verify;

namespace SharpLens.Tests.Support;

/// <summary>
/// A results.json filled with the notebook's own values (the reference figures and printed numbers), as a perfect run on
/// real GPT-2 would write it, with the shipped study file (and its claims). Tests damage it and expect verify to object.
/// </summary>
public static class ReferenceResults
{
    /// <summary>The committed copy of the study's published data (studies/reference, copied to the test output's fixtures/reference).</summary>
    public static JsonObject Reference => RealGpt2.Notebook.AsObject();

    /// <summary>The repository's studies/contractions.json.</summary>
    public static string StudyFilePath
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpLens.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), "studies", "contractions.json");
        }
    }

    /// <summary>Results holding exactly the reference's values and labels.</summary>
    public static StudyResults Build(JsonObject reference)
    {
        var results = new StudyResults(new JsonObject
        {
            ["study"] = "contractions", ["model"] = "gpt2",
            ["study_file"] = JsonNode.Parse(File.ReadAllText(StudyFilePath)),
        });
        var printed = (JsonObject)reference["notebook_printed"]!;
        foreach (var (g, group) in (JsonObject)reference["groups"]!)
        {
            bool exp1 = group!["experiment"]?.ToString() == "1";
            var prompts = (JsonArray)group["prompts"]!;
            var strTokens = new JsonArray(prompts.Select(_ => (JsonNode?)new JsonArray()).ToArray());
            results.Set(g, "info", new JsonObject
            {
                ["prompts"] = prompts.DeepClone(), ["answers"] = group["answers"]!.DeepClone(), ["str_tokens"] = strTokens, ["experiment"] = exp1 ? 1 : 2, // as studies/contractions.json says
            });
            var perPrompt = exp1 ? printed["exp1_logit_diff_per_prompt"]! : printed["exp2_logit_diff_per_prompt"]![g]!;
            double mean = exp1 ? printed["exp1_logit_diff_mean"]!.GetValue<double>() : printed["exp2_logit_diff_mean"]![g]!.GetValue<double>();
            var modelCheck = new JsonObject
            {
                ["clean_logit_diff"] = mean, ["clean_per_prompt"] = perPrompt.DeepClone(),
                ["corrupted_logit_diff"] = exp1 ? printed["exp1_corrupted_logit_diff_mean"]!.GetValue<double>() : -mean,
            };
            if (exp1)
            {
                strTokens[0] = printed["exp1_str_tokens_prompt0"]!.DeepClone();
                modelCheck["predictions"] = new JsonArray(((JsonArray)printed["exp1_tokens"]!).Select(t => (JsonNode?)new JsonObject { ["tokens"] = t!.DeepClone() }).ToArray());
                results.Set(g, StudyTestPrompts.Path, new JsonArray(TestPrompt((JsonObject)printed["test_prompt"]!)));
                results.Set(g, StudyNamedNeurons.Path, new JsonObject
                {
                    ["neurons"] = new JsonArray(((JsonObject)printed["neuron_activations"]!).Select(kv => (JsonNode?)new JsonObject
                    {
                        ["name"] = kv.Key, ["activations"] = new JsonArray(kv.Value!["post_gelu_activation"]!.DeepClone()),
                    }).ToArray()),
                });
            }
            results.Set(g, "model_check", modelCheck);
        }
        var neurons = new Dictionary<string, Dictionary<string, JsonArray>>();
        foreach (var f in (JsonArray)reference["figures"]!)
        {
            string g = f!["group"]!.ToString(), title = f["title"]!.ToString();
            var trace = f["traces"]![0]!;
            var map = ReferenceFigures.For(title)!;
            if (map.YPath is not null) continue; // scatters are drawn from the head grids
            if (map.NeuronLayer is string layer)
            {
                (neurons.TryGetValue(g, out var d) ? d : neurons[g] = [])[layer] = (JsonArray)trace["y"]!;
                continue;
            }
            JsonObject grid = trace["z"] is JsonArray z
                ? Grid(Indices(z.Count), trace["x"] as JsonArray ?? Indices(((JsonArray)z[0]!).Count), z.DeepClone())
                : Grid(new JsonArray("logit_diff"), (JsonArray)trace["hovertext"]!, new JsonArray(trace["y"]!.DeepClone()));
            results.Set(g, map.Path, new JsonObject { ["grid"] = grid });
        }
        foreach (var (g, layers) in neurons)
            results.Set(g, "neuron_patching", new JsonObject
            {
                ["grid"] = Grid(new JsonArray(layers.Keys.Select(k => (JsonNode?)k).ToArray()), Indices(layers.Values.First().Count),
                    new JsonArray(layers.Values.Select(v => (JsonNode?)v.DeepClone()).ToArray())),
            });
        return results;
    }

    private static JsonObject TestPrompt(JsonObject tp) => new()
    {
        ["prompt"] = tp["prompt"]!.DeepClone(),
        ["answer"] = new JsonObject
        {
            ["token"] = tp["answer"]!.DeepClone(), ["rank"] = tp["answer_rank"]!.DeepClone(), ["logit"] = tp["answer_logit_centered"]!.DeepClone(),
            ["prob"] = tp["answer_prob_percent"]!.GetValue<double>() / 100,
        },
        ["top_k"] = new JsonArray(((JsonArray)tp["top10"]!).Select(t => (JsonNode?)new JsonObject
        {
            ["token"] = t![0]!.DeepClone(), ["logit"] = t[1]!.DeepClone(), ["prob"] = t[2]!.GetValue<double>() / 100,
        }).ToArray()),
    };

    private static JsonObject Grid(JsonArray rows, JsonArray cols, JsonNode values) => new()
    {
        ["values"] = values, ["rows"] = new JsonArray(rows.Select(r => (JsonNode?)r!.ToString()).ToArray()), ["cols"] = new JsonArray(cols.Select(c => (JsonNode?)c!.ToString()).ToArray()),
    };

    private static JsonArray Indices(int n) => new(Enumerable.Range(0, n).Select(i => (JsonNode?)i.ToString()).ToArray());
}
