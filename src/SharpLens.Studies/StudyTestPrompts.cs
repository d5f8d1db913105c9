using System.Text.Json.Nodes;
using SharpLens.Analysis.Predictions;
using SharpLens.Model;

namespace SharpLens.Studies;

/// <summary>
/// The group's "test_prompts", each run like TransformerLens' <c>test_prompt</c>: the answer's rank, logit and
/// probability at the final position and the top-k tokens (k = the group's top_k).
/// </summary>
internal static class StudyTestPrompts
{
    /// <summary>Where results.json keeps them: groups.&lt;group&gt;.test_prompts.</summary>
    public const string Path = "test_prompts";

    /// <summary>A list of <see cref="NextTokenPrediction.ToJson"/> objects, each with its "prompt" text.</summary>
    public static JsonArray Run(HookedTransformer model, ResolvedGroup g)
    {
        var list = new JsonArray();
        foreach (var (prompt, tokens, answer) in g.TestPrompts)
        {
            var prediction = NextTokenPrediction.Run(model, tokens, g.Group.TopK, answer);
            if (!float.IsFinite(prediction.Answer!.Logit) || prediction.TopK.Any(t => !float.IsFinite(t.Logit)))
                throw new SharpLensException($"{g.Name}: test prompt {System.Text.Json.JsonSerializer.Serialize(prompt)} produced a non-finite logit: the model's weights or computation are broken; nothing was saved");
            var json = prediction.ToJson();
            json["prompt"] = prompt;
            list.Add(json);
        }
        return list;
    }
}
