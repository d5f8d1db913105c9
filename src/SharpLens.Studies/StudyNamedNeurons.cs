using System.Text.Json.Nodes;
using SharpLens.Analysis;
using SharpLens.Model;

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
        var activations = ComponentActivations.NeuronActivations(model, g.Clean, g.NamedNeurons);
        var list = new JsonArray();
        for (int i = 0; i < g.NamedNeurons.Count; i++)
        {
            var neuron = g.NamedNeurons[i];
            var acts = new JsonArray(activations[i].Select((perPrompt, b) => (JsonNode?)FiniteJson.Array(perPrompt, $"{g.Name}: activation of {neuron} on prompt {b}")).ToArray());
            list.Add(new JsonObject { ["name"] = neuron.ToString(), ["layer"] = neuron.Layer, ["index"] = neuron.Neuron, ["activations"] = acts });
        }
        return new JsonObject { ["neurons"] = list };
    }
}
