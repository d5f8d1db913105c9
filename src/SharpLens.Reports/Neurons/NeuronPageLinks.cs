using SharpLens.Neurons;

namespace SharpLens.Reports.Neurons;

/// <summary>Where neuron and layer pages live, relative to the page being written (null: no link).</summary>
/// <param name="Neuron">Href of a neuron's page.</param>
/// <param name="Layer">Href of a layer's page.</param>
public sealed record NeuronPageLinks(Func<NeuronId, string?> Neuron, Func<int, string?> Layer)
{
    /// <summary>Pages side by side in one folder: L8N2744.html and L8.html (what <see cref="NeuronPages.Write"/> writes).</summary>
    public static NeuronPageLinks SameFolder { get; } = new(id => FileName(id), layer => LayerFileName(layer));

    /// <summary>File name of a neuron page: "L8N2744.html".</summary>
    public static string FileName(NeuronId id) => $"{id}.html";

    /// <summary>File name of a layer page: "L8.html".</summary>
    public static string LayerFileName(int layer) => $"L{layer}.html";
}
