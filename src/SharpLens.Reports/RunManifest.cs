using System.Globalization;
using System.Text.Json.Nodes;

namespace SharpLens.Reports;

/// <summary>One figure listed in a <see cref="RunManifest"/>.</summary>
/// <param name="Kind">The figure's kind ("heatmap", "neuron_text", ...).</param>
/// <param name="Title">Its title.</param>
/// <param name="Base">Its files without extension, relative to the run folder (e.g. "figures/01-layers").</param>
/// <param name="Caption">Its caption, when it has one.</param>
public sealed record RunFigure(string Kind, string Title, string Base, string? Caption = null);

/// <summary>
/// <c>report.json</c> of a run folder: what made it (<see cref="Kind"/>, e.g. "patch" or "view attention"), when, on
/// which model, the page to open (<see cref="Entry"/>) and its figures. Every command that writes a folder of pages
/// records one, so that <see cref="RunIndex"/> lists every run. The creation time is the only field that differs
/// between two identical runs.
/// </summary>
/// <param name="Kind">The command that wrote the folder, as a user types it: "study", "attribute", "view neurons", ...</param>
/// <param name="Title">Title shown in the run index.</param>
/// <param name="Entry">The page to open, relative to the folder (index.html for full reports).</param>
public sealed record RunManifest(string Kind, string Title, string Entry)
{
    /// <summary>The file name inside a run folder.</summary>
    public const string FileName = "report.json";

    /// <summary>Model name, e.g. "gpt2".</summary>
    public string? Model { get; init; }
    /// <summary>When the run was made (defaults to now).</summary>
    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>The run's figures, in page order.</summary>
    public IReadOnlyList<RunFigure> Figures { get; init; } = [];
    /// <summary>Settings of the run, in insertion order (a later value of a repeated key wins).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = [];

    /// <summary>The JSON written to report.json.</summary>
    public JsonObject ToJson() => new()
    {
        ["title"] = Title, ["kind"] = Kind, ["model"] = Model, ["created"] = Created.ToString("o", CultureInfo.InvariantCulture), ["entry"] = Entry,
        ["settings"] = new JsonObject(Settings.GroupBy(kv => kv.Key).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Last().Value))),
        ["figures"] = new JsonArray(Figures.Select((f, i) => (JsonNode?)new JsonObject
        {
            ["n"] = i + 1, ["kind"] = f.Kind, ["title"] = f.Title, ["caption"] = f.Caption, ["base"] = f.Base,
        }).ToArray()),
    };

    /// <summary>Writes <c>dir/report.json</c> atomically.</summary>
    public void Write(string dir) => AtomicFile.WriteAllText(Path.Combine(dir, FileName), ToJson().ToJsonString(FigureWriter.Indented));

    /// <summary>The manifest of a folder of standalone figure pages (written by <see cref="FigureWriter"/>): the first page is the entry.</summary>
    public static RunManifest ForFigures(string kind, string title, string? model, IReadOnlyList<(Figure Figure, FigureFiles Files)> figures)
    {
        if (figures.Count == 0 || figures[0].Files.Html is null) throw new ArgumentException("the first figure needs an HTML page", nameof(figures));
        static string Base(FigureFiles files) => Path.GetFileNameWithoutExtension((files.Html ?? files.Json ?? files.Svg ?? files.Csv ?? files.Png)!);
        return new RunManifest(kind, title, Path.GetFileName(figures[0].Files.Html!))
        {
            Model = model,
            Figures = figures.Select(f => new RunFigure(f.Figure.Kind, f.Figure.Title, Base(f.Files))).ToList(),
        };
    }
}
