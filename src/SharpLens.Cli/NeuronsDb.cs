using System.CommandLine;
using SharpLens.Neurons;

namespace SharpLens.Cli;

/// <summary>
/// <c>--neurons-db DB</c> of the commands that name neurons (<c>view neurons</c>, <c>study run</c>): a neuron index
/// (<c>sharplens neurons index</c>) whose pages the output links to. Everything that can be checked without the model
/// is checked before it loads; the caller checks the model itself (<see cref="NeuronIndex.RequireModel(SharpLens.Model.HookedTransformer)"/>)
/// right after loading it, before any work.
/// </summary>
internal static class NeuronsDb
{
    /// <summary>The option; <paramref name="purpose"/> completes "Neuron index (sharplens neurons index): ...".</summary>
    public static Option<string?> Option(string purpose) => new("--neurons-db") { Description = $"Neuron index (sharplens neurons index) built for this model: {purpose}" };

    /// <summary>Opens the index (null when no path is given) and checks that it holds every neuron in <paramref name="named"/>.</summary>
    public static NeuronIndex? Open(string? path, IEnumerable<NeuronId> named)
    {
        if (path is null) return null;
        var index = NeuronIndex.Open(path);
        try
        {
            foreach (var id in named)
                if (!index.Provenance.Layers.Contains(id.Layer))
                    throw new InvalidInputException($"layer {id.Layer} is not in neuron index {index.Path} (it holds layers {string.Join(", ", index.Provenance.Layers)}), so {id} has no page: index that layer too (neurons index --layers) or leave out --neurons-db");
                else index.RequireNeuron(id);
        }
        catch { index.Dispose(); throw; }
        return index;
    }
}
