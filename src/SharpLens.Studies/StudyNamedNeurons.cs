using System.Text.Json.Nodes;
using SharpLens.Model;
using SharpLens.Model.Hooks;

namespace SharpLens.Studies;

/// <summary>
/// The study's named neurons ("neurons": ["L8N2744", ...]): each one's post-GELU activation (<c>mlp.hook_post</c>) at
/// every position of every clean prompt. Computed whenever a group names neurons, whatever the patching finds, so the
/// notebook's printed activations can always be verified.
/// </summary>
internal static class StudyNamedNeurons
{
    /// <summary>Where results.json keeps them: groups.&lt;group&gt;.neuron_activations.</summary>
    public const string Path = "neuron_activations";

    /// <summary><c>{"neurons": [{"name", "layer", "index", "activations": [prompt][position]}]}</c> (real positions only).</summary>
    public static JsonObject Run(HookedTransformer model, ResolvedGroup g)
    {
        var (_, cache) = model.RunWithCache(g.Clean, g.NamedNeurons.Select(n => HookNames.MlpPost(n.Layer)).Distinct(), LogitsMode.None);
        int dMlp = model.Config.DMlp, pos = g.Clean.Pos;
        var list = new JsonArray();
        foreach (var (layer, index) in g.NamedNeurons)
        {
            var post = cache[HookNames.MlpPost(layer)]; // [batch, pos, d_mlp]
            var acts = new JsonArray();
            for (int b = 0; b < g.Clean.Batch; b++)
                acts.Add(FiniteJson.Array(Enumerable.Range(0, g.Clean.Lengths[b]).Select(p => post.Data[(b * pos + p) * dMlp + index]),
                    $"{g.Name}: activation of L{layer}N{index} on prompt {b}"));
            list.Add(new JsonObject { ["name"] = $"L{layer}N{index}", ["layer"] = layer, ["index"] = index, ["activations"] = acts });
        }
        return new JsonObject { ["neurons"] = list };
    }
}
