using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpLens.Neurons;
using SharpLens.Reports;
using SharpLens.Reports.Neurons;

namespace SharpLens.Studies;

/// <summary>
/// Neuron pages for a study report (<c>study run --neurons-db</c>): every neuron the report names (the study's named
/// neurons, the top neurons of neuron patching, the neuron candidates of attribution patching) that the index holds gets
/// its page in <c>neurons/</c> of the report folder, and the report links its name there wherever it appears.
/// </summary>
public static partial class StudyNeuronPages
{
    /// <summary>The folder of the pages inside the report folder.</summary>
    public const string Folder = "neurons";

    /// <summary>Every neuron named in <paramref name="results"/>, in order of first mention.</summary>
    public static IReadOnlyList<NeuronId> Named(StudyResults results)
    {
        var names = new List<string>();
        foreach (var (g, _) in results.Groups)
        {
            Collect(results.Get(g, StudyNamedNeurons.Path)?["neurons"], names);
            Collect(results.Get(g, StudyAnalyses.NeuronPatching)?["top"], names);
            Collect(results.Get(g, StudyAnalyses.AttributionPatching)?["candidates"], names);
        }
        return names.Select(n => NeuronName().Match(n)).Where(m => m.Success)
            .Select(m => new NeuronId(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value))).Distinct().ToList();
    }

    /// <summary>Writes the pages of the named neurons that <paramref name="index"/> holds and adds their links to <paramref name="report"/>.</summary>
    /// <returns>The neurons that got a page.</returns>
    public static IReadOnlyList<NeuronId> WriteAndLink(Report report, StudyResults results, NeuronIndex index, string outDir)
    {
        var held = Named(results).Where(id => index.Provenance.Layers.Contains(id.Layer) && id.Neuron < index.Provenance.DMlp).ToList();
        if (held.Count == 0) return held;
        NeuronPages.Write(index, Path.Combine(outDir, Folder), held);
        foreach (var id in held) report.Links[id.ToString()] = $"{Folder}/{NeuronPageLinks.FileName(id)}";
        return held;
    }

    private static void Collect(JsonNode? list, List<string> names)
    {
        if (list is JsonArray array)
            foreach (var item in array)
                if (item?["name"]?.ToString() is string name) names.Add(name);
    }

    [GeneratedRegex(@"^L(\d+)N(\d+)$")]
    private static partial Regex NeuronName();
}
