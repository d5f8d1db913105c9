using System.Text.Json.Nodes;

namespace SharpLens.Server;

/// <summary>How <see cref="ExplorerServer"/> listens and what it allows.</summary>
public sealed record ExplorerOptions
{
    /// <summary>Loopback port; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = 8765;
    /// <summary>A neuron index (<c>sharplens neurons index</c>) built from this model: neuron views then link its pages.</summary>
    public string? NeuronsDb { get; init; }
    /// <summary>Folder under which "export" writes report folders (checked at start-up: it must be creatable and writable).</summary>
    public string ReportsDir { get; init; } = "reports";
    /// <summary>
    /// The example the page's form holds on a first visit (no state in the URL), as an analysis input: "clean" prompts,
    /// "answers" pairs and "corrupted" ("swap_pairs" or prompts). By default the contractions study's first pairing
    /// (studies/contractions.json); null opens an empty form. Only shown for models with GPT-2's tokenizer (text prompts).
    /// </summary>
    public JsonObject? Example { get; init; } = ContractionsExample();

    /// <summary>The contractions study's first pairing: each prompt's expansion is the other's corrupted prompt.</summary>
    public static JsonObject ContractionsExample() => new()
    {
        ["clean"] = new JsonArray("We're helping our friend when they", "We are helping our friend when they"),
        ["corrupted"] = "swap_pairs",
        ["answers"] = new JsonArray(new JsonArray("'re", " are"), new JsonArray(" are", "'re")),
    };
    /// <summary>Largest request body accepted (413 above it).</summary>
    public long MaxRequestBytes { get; init; } = 256 * 1024;
    /// <summary>Patching jobs that may wait behind the running one (429 above it).</summary>
    public int MaxQueuedJobs { get; init; } = 4;
    /// <summary>Finished jobs whose results are kept for export and late listeners.</summary>
    public int KeepFinishedJobs { get; init; } = 8;
    /// <summary>Interactive analyses computed at once; more wait their turn (bounds memory under load).</summary>
    public int MaxConcurrentAnalyses { get; init; } = 2;
    /// <summary>Receives one line per server fault (the page gets only a one-line message).</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Tests only: while reset, a running patching job waits after each pass (until set or cancelled), so a test
    /// can cancel a job that is certainly running or certainly queued, however fast the machine.</summary>
    internal ManualResetEventSlim? ProgressGate { get; init; }
    /// <summary>Tests only: while reset, a running patching job waits after publishing each finished grid, so a test can
    /// look at the page while some kinds are shown and others are still to come.</summary>
    internal ManualResetEventSlim? PartialGate { get; init; }
}
