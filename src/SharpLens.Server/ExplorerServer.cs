using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>
/// <c>sharplens serve</c>: the study's notebook experience as a local web app. One model is loaded once; minimal-API
/// endpoints are thin layers over the library's analyses (<see cref="ExplorerAnalyses"/>, <see cref="PatchRequest"/>).
/// Kestrel listens on 127.0.0.1 only, every request must name a local Host (and Origin, when sent), bodies are size
/// limited, static files come from a fixed embedded table, and patching runs one job at a time with progress as
/// server-sent events.
/// </summary>
public sealed class ExplorerServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly PatchQueue _queue;
    readonly ExplorerNeuronIndex? _neurons;

    ExplorerServer(WebApplication app, PatchQueue queue, ExplorerNeuronIndex? neurons, Uri address)
    {
        _app = app; _queue = queue; _neurons = neurons; Address = address;
    }

    /// <summary>The page's address, e.g. http://127.0.0.1:8765/.</summary>
    public Uri Address { get; }

    /// <summary>Starts serving <paramref name="model"/>; returns once the port is bound.</summary>
    public static async Task<ExplorerServer> StartAsync(HookedTransformer model, ExplorerOptions? options = null, CancellationToken cancel = default)
    {
        options ??= new ExplorerOptions();
        // A wrong or missing index is the user's mistake: say so before binding the port.
        Reports.OutputLocation.RequireWritableFolder("--reports", options.ReportsDir);   // not when Export is first pressed
        var neurons = options.NeuronsDb is string db ? ExplorerNeuronIndex.Open(db, model) : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, options.Port);
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.Limits.MaxRequestLineSize = 8 * 1024;
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var queue = new PatchQueue(options.MaxQueuedJobs, options.KeepFinishedJobs, options.ProgressGate, options.PartialGate);
        app.Use(LocalRequestGuard.Invoke);
        new ExplorerEndpoints(model, options, queue, neurons).Map(app);
        await app.StartAsync(cancel);
        var address = new Uri(app.Urls.First().Replace("[::]", "127.0.0.1").TrimEnd('/') + "/");
        return new ExplorerServer(app, queue, neurons, address);
    }

    /// <summary>Completes when the server stops (Ctrl+C, or <paramref name="cancel"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => _app.WaitForShutdownAsync(cancel);

    /// <summary>Cancels queued jobs, stops the server and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _neurons?.Dispose();
    }
}
