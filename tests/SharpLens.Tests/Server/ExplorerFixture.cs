using System.Net.Http.Json;
using System.Text.Json.Nodes;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Server;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Server;

/// <summary>One explorer server per test class, in-process on a free loopback port, over a tiny random GPT-2-vocabulary
/// checkpoint loaded from disk as <c>sharplens serve --model FOLDER</c> would.</summary>
public class ExplorerFixture : IAsyncLifetime
{
    public HookedTransformer Model { get; private set; } = null!;
    public ExplorerServer Server { get; private set; } = null!;
    public string ReportsDir { get; } = Path.Combine(Path.GetTempPath(), "sharplens-explorer-" + Guid.NewGuid().ToString("N")[..8]);
    public HttpClient Http { get; private set; } = null!;
    public List<string> ServerLog { get; } = new();
    /// <summary>Set (open) normally; a test resets it to hold running patching jobs after their first pass.</summary>
    public ManualResetEventSlim ProgressGate { get; } = new(initialState: true);
    /// <summary>Set (open) normally; a test resets it to hold running patching jobs after each finished kind.</summary>
    public ManualResetEventSlim PartialGate { get; } = new(initialState: true);

    public async Task InitializeAsync()
    {
        Model = ModelLoader.Load(RandomCheckpoint.Shared);
        Server = await ExplorerServer.StartAsync(Model, new ExplorerOptions
        {
            Port = 0, ReportsDir = ReportsDir, MaxRequestBytes = 64 * 1024,
            Log = line => { lock (ServerLog) ServerLog.Add(line); }, ProgressGate = ProgressGate, PartialGate = PartialGate, NeuronsDb = NeuronsDb(Model),
        });
        Http = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The neuron index to serve, if any (see <see cref="ExplorerWithIndexFixture"/>).</summary>
    protected virtual string? NeuronsDb(HookedTransformer model) => null;

    public virtual async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        if (Directory.Exists(ReportsDir)) Directory.Delete(ReportsDir, recursive: true);
    }

    /// <summary>POSTs <paramref name="body"/> and returns (status, parsed JSON).</summary>
    public async Task<(int Status, JsonObject Json)> Post(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }
}
