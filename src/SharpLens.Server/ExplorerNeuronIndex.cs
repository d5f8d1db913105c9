using SharpLens.Model;
using SharpLens.Neurons;
using SharpLens.Reports.Neurons;

namespace SharpLens.Server;

/// <summary>
/// The neuron index loaded with <c>--neurons-db</c> (a <see cref="NeuronIndex"/>): Neuroscope-style pages of
/// single neurons, rendered by <see cref="NeuronPage"/>. The index must be built from the served model's weights; its
/// SQLite connection is used by one request at a time.
/// </summary>
internal sealed class ExplorerNeuronIndex : IDisposable
{
    readonly NeuronIndex _index;
    readonly object _gate = new();

    /// <summary>Links between neuron pages stay inside the explorer; layer pages are not served.</summary>
    static readonly NeuronPageLinks Links = new(id => $"/neurons/{id}", _ => null);

    ExplorerNeuronIndex(NeuronIndex index) => _index = index;

    /// <summary>Opens <paramref name="path"/> and checks it was built for <paramref name="model"/>; one-line errors otherwise.</summary>
    public static ExplorerNeuronIndex Open(string path, HookedTransformer model)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"neuron index {path} does not exist: build one with sharplens neurons index, or leave out --neurons-db");
        var index = NeuronIndex.Open(path);
        try { index.RequireModel(model); }
        catch { index.Dispose(); throw; }
        return new ExplorerNeuronIndex(index);
    }

    /// <summary>The page body (to embed in the explorer) of neuron <paramref name="id"/>.</summary>
    public string Body(NeuronId id) { lock (_gate) return NeuronPage.Body(_index.GetNeuron(id), Links); }

    /// <summary>The whole page of neuron <paramref name="id"/>, loading its scripts from the explorer's /assets.</summary>
    public string Page(NeuronId id) { lock (_gate) return NeuronPage.Render(_index.GetNeuron(id), Links, "/assets"); }

    public void Dispose() { lock (_gate) _index.Dispose(); }
}
