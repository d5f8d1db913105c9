using System.Text.Json.Nodes;
using SharpLens.Model;
using SharpLens.Reports;

namespace SharpLens.Server;

/// <summary>
/// "Export" writes what is on the screen as a report folder: <c>result.json</c> in the format of <c>sharplens
/// attribute</c>/<c>patch</c> (so <c>sharplens plot result.json</c> redraws it) and the report <c>sharplens plot</c>
/// writes from it, plus the attention and neuron views being shown. The folder appears whole or not at all, and the
/// reports folder's index (<c>index.html</c>, as <c>sharplens index</c> writes it) then lists it with kind "report".
/// </summary>
internal static class ReportExport
{
    static readonly object NameLock = new();

    public static JsonObject Write(HookedTransformer model, ExplorerRequest request, PatchQueue queue, string reportsDir)
    {
        var data = request.Input(alignedLengths: false, corruptedOptional: true);
        var first = data.Clean.Sequence(0);
        // A view is named as the explorer's own requests name it: {"name": "L7H11"} or {"layer": 7, "head": 11}, or the name alone.
        ExplorerRequest? View(string key) => request.Body[key] switch
        {
            null => null,
            JsonObject o => new ExplorerRequest(o, model),
            var name => new ExplorerRequest(new JsonObject { ["name"] = name.DeepClone() }, model),
        };
        var head = View("view_head")?.Head();
        var neuron = View("view_neuron")?.Neuron();
        JsonObject? patch = null;
        if (request.Body["job"] is JsonValue jv && jv.TryGetValue(out string? jobId))
            patch = (queue.Find(jobId) ?? throw new InvalidInputException($"patching job '{jobId}' is no longer kept: run the patching again, then export"))
                .Result ?? throw new InvalidInputException($"patching job '{jobId}' has no result (it is still running, failed or was cancelled): export after it finishes");

        var result = Analysis.AnalysisResult.Attribute(model, data, topNeurons: 20, out _);
        string title = request.String("title", "SharpLens explorer");
        result["title"] = title;
        if (patch is not null)
            foreach (var (key, value) in patch)
                if (value is not null && GridPlotter.IsGrid(value)) result[key] = value.DeepClone();
        result["settings"] = new JsonObject
        {
            ["command"] = "serve (export)", ["patching"] = patch?["settings"]?["method"]?.ToString() ?? "none",
        };

        // Built from the JSON text, exactly as sharplens plot reads result.json.
        string text = result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        var report = GridPlotter.BuildReport(JsonNode.Parse(text)!.AsObject(), title);
        report.StaticImages = false;   // interactive figures now; sharplens plot result.json adds PNG/SVG copies
        report.Kind = "report";        // how the reports index (sharplens index) lists an export
        if (head is HeadId viewHead) report.AddFigure(ExplorerAnalyses.AttentionView(model, first, viewHead), "attention pattern on the first prompt");
        if (neuron is NeuronId viewNeuron) report.AddFigure(ExplorerAnalyses.NeuronView(model, first, viewNeuron), "neuron activation on the first prompt");

        string folder;
        lock (NameLock)
        {
            Directory.CreateDirectory(reportsDir);
            string stem = Path.Combine(reportsDir, $"explorer-{DateTime.Now:yyyyMMdd-HHmmss}");
            folder = stem;
            for (int i = 2; Directory.Exists(folder) || Directory.Exists(folder + ".tmp"); i++) folder = $"{stem}-{i}";
            Directory.CreateDirectory(folder + ".tmp");
        }
        string tmp = folder + ".tmp";
        try
        {
            File.WriteAllText(Path.Combine(tmp, "result.json"), text);
            report.Write(tmp);
            Directory.Move(tmp, folder);
            // The reports folder's index lists the export at once, as sharplens plot does for its runs.
            lock (NameLock) RunIndex.Write(reportsDir);
        }
        catch
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
            throw;
        }
        return new JsonObject
        {
            ["folder"] = Path.GetFullPath(folder), ["index"] = Path.GetFullPath(Path.Combine(folder, "index.html")),
            ["result"] = Path.GetFullPath(Path.Combine(folder, "result.json")), ["figures"] = report.FigureCount,
            ["reports_index"] = Path.GetFullPath(Path.Combine(reportsDir, "index.html")),
        };
    }
}
