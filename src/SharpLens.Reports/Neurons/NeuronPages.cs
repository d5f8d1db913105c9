using SharpLens.Neurons;

namespace SharpLens.Reports.Neurons;

/// <summary>Writes neuron and layer pages of an index into one folder (with its assets), as <c>sharplens neurons show</c> and the
/// reports that link to neurons do.</summary>
public static class NeuronPages
{
    /// <summary>
    /// Writes <c>dir/L8N2744.html</c> for each neuron, <c>dir/L8.html</c> for each layer (plus the pages of its
    /// <paramref name="topPerLayer"/> strongest neurons, so its first links work), and <c>dir/assets/</c>. Every file is written
    /// atomically. Returns the page path of every neuron written.
    /// </summary>
    public static IReadOnlyDictionary<NeuronId, string> Write(NeuronIndex index, string dir, IEnumerable<NeuronId> neurons,
        IEnumerable<int>? layers = null, int topPerLayer = 0)
    {
        var wanted = neurons.ToList();
        foreach (var id in wanted) index.RequireNeuron(id);
        var layerList = (layers ?? []).Distinct().ToList();
        foreach (var l in layerList) index.RequireNeuron(new NeuronId(l, 0));
        var written = new Dictionary<NeuronId, string>();
        var summaries = layerList.ToDictionary(l => l, index.GetLayer);
        foreach (var (l, rows) in summaries) wanted.AddRange(rows.Take(topPerLayer).Select(r => new NeuronId(l, r.Neuron)));
        var pages = wanted.Distinct().ToHashSet();
        // Everything is read before anything is written: a damaged index fails with no page half made.
        var records = pages.ToDictionary(id => id, index.GetNeuron);
        var links = new NeuronPageLinks(id => pages.Contains(id) ? NeuronPageLinks.FileName(id) : null,
            l => summaries.ContainsKey(l) ? NeuronPageLinks.LayerFileName(l) : null);
        Directory.CreateDirectory(dir);
        Assets.WriteTo(Path.Combine(dir, "assets"));
        foreach (var (id, record) in records)
        {
            string path = Path.Combine(dir, NeuronPageLinks.FileName(id));
            AtomicFile.WriteAllText(path, NeuronPage.Render(record, links, "assets"));
            written[id] = path;
        }
        foreach (var (l, rows) in summaries)
            AtomicFile.WriteAllText(Path.Combine(dir, NeuronPageLinks.LayerFileName(l)), LayerPage.Render(index.Provenance, l, rows, links, "assets"));
        return written;
    }
}
