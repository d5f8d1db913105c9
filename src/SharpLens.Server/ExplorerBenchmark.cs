using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using SharpLens.Model;

namespace SharpLens.Server;

/// <summary>One interaction of the explorer, timed (<c>sharplens bench --suites explorer</c>).</summary>
/// <param name="Name">What the user does, e.g. "predict" or "patch_exact".</param>
/// <param name="Endpoint">The request that does it.</param>
/// <param name="MedianSeconds">Median wall time from sending the request to the complete answer (for patching: to the
/// "result" event; for "..._first_kind": to the first "partial" event, when the page shows the first heatmap), measured
/// on loopback so it is the server's time plus a local round trip.</param>
public sealed record ExplorerTiming(string Name, string Endpoint, double MedianSeconds);

/// <summary>
/// Times every interaction of the explorer the way the page performs it: a real <see cref="ExplorerServer"/> on a free
/// loopback port, the same JSON requests the page sends (four prompt pairs of the study, swap-pair corruption, answer
/// pairs 're / are; exact patching also for one prompt pair, as the notebook patched), and each answer checked to be a
/// success before its time counts.
/// </summary>
public static class ExplorerBenchmark
{
    /// <summary>The study's prompts: each pair differs only in the contraction, so swapping pairs corrupts the answer.</summary>
    public static readonly string[] Prompts =
    [
        "We're helping our friend when they", "We are helping our friend when they",
        "They're eating dinner together while they", "They are eating dinner together while they",
        "You're reading the book because they", "You are reading the book because they",
        "We're walking to school and they", "We are walking to school and they",
    ];

    /// <summary>Runs each interaction once to warm up, then <paramref name="repeats"/> times (patching: at most 3).</summary>
    /// <param name="model">A model with a tokenizer.</param>
    /// <param name="repeats">Timed runs per interaction.</param>
    /// <param name="neuronLayers">Layers whose neurons the patching runs patch (default: the last layer).</param>
    public static async Task<IReadOnlyList<ExplorerTiming>> RunAsync(HookedTransformer model, int repeats = 5, int[]? neuronLayers = null)
    {
        model.RequireTokenizer();
        int last = model.Config.NLayers - 1;
        neuronLayers ??= [last];
        string reports = Path.Combine(Path.GetTempPath(), "sharplens-explorer-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var server = await ExplorerServer.StartAsync(model, new ExplorerOptions { Port = 0, ReportsDir = reports });
        try
        {
            using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
            var input = new
            {
                clean = Prompts, corrupted = "swap_pairs",
                answers = Enumerable.Range(0, Prompts.Length).Select(i => i % 2 == 0 ? new[] { "'re", " are" } : new[] { " are", "'re" }).ToArray(),
            };
            int head = Math.Min(11, model.Config.NHeads - 1), layer = Math.Min(7, last), neuron = Math.Min(2744, model.Config.DMlp - 1);
            // The page's default patching (residual stream, attention and MLP layers, heads); exact neuron patching
            // (d_mlp patched runs per prompt and layer) is timed on its own, attribution patching does everything at once.
            string[] kinds = ["resid_pre", "attn_out", "mlp_out", "head_out"];
            var timings = new List<ExplorerTiming>();
            double Median(double[] times) { Array.Sort(times); return times[times.Length / 2]; }
            async Task Time(string name, string endpoint, Func<Task> call, int n)
            {
                await call();
                var times = new double[n];
                for (int i = 0; i < n; i++)
                {
                    var clock = Stopwatch.StartNew();
                    await call();
                    times[i] = clock.Elapsed.TotalSeconds;
                }
                timings.Add(new ExplorerTiming(name, endpoint, Median(times)));
            }
            // Patching: the whole job and, as the page shows it, the first kind's heatmap (its first "partial" event).
            async Task TimePatch(string name, string endpoint, object body, int n)
            {
                await Patch(http, body, null);
                var times = new double[n];
                var first = new double[n];
                for (int i = 0; i < n; i++)
                {
                    var clock = Stopwatch.StartNew();
                    first[i] = await Patch(http, body, clock);
                    times[i] = clock.Elapsed.TotalSeconds;
                }
                timings.Add(new ExplorerTiming(name, endpoint, Median(times)));
                if (first.All(t => t > 0)) timings.Add(new ExplorerTiming(name + "_first_kind", endpoint + " (first partial)", Median(first)));
            }
            Task Post(string path, object body) => PostOk(http, path, body);
            await Time("predict", "POST /api/predict", () => Post("/api/predict", new { prompt = Prompts[0], answers = new[] { "'re", " are" }, top_k = 10 }), repeats);
            await Time("attribute", "POST /api/attribute", () => Post("/api/attribute", new { input }), repeats);
            await Time("head", "POST /api/head", () => Post("/api/head", new { prompt = Prompts[0], layer, head }), repeats);
            await Time("neuron", "POST /api/neuron", () => Post("/api/neuron", new { prompt = Prompts[0], layer, neuron }), repeats);
            int patchRepeats = Math.Min(repeats, 3);
            await TimePatch("patch_exact", "POST /api/patch (exact) + events", new { input, kinds, method = "exact" }, patchRepeats);
            // The notebook's own experiment: one clean prompt against its corrupted twin, the same four kinds.
            var onePair = new { clean = new[] { Prompts[0] }, corrupted = new[] { Prompts[1] }, answers = new[] { new[] { "'re", " are" } } };
            await TimePatch("patch_exact_one_pair", "POST /api/patch (exact, one prompt pair) + events", new { input = onePair, kinds, method = "exact" }, patchRepeats);
            await TimePatch("patch_exact_neurons", "POST /api/patch (exact, neurons) + events",
                new { input, kinds = new[] { "neurons" }, neuron_layers = neuronLayers, method = "exact" }, patchRepeats);
            await TimePatch("patch_attribution", "POST /api/patch (attribution) + events",
                new { input, kinds = kinds.Append("neurons").ToArray(), neuron_layers = neuronLayers, method = "attribution" }, patchRepeats);
            await Time("export", "POST /api/export", () => Post("/api/export", new { input, view_head = new { layer, head } }), repeats);
            return timings;
        }
        finally
        {
            await server.DisposeAsync();
            try { if (Directory.Exists(reports)) Directory.Delete(reports, recursive: true); } catch (IOException) { }
        }
    }

    static async Task<JsonObject> PostOk(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new SharpLensException($"explorer benchmark: {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Queues a patching job and reads its server-sent events to the end; the last must be "result". Returns the
    /// time on <paramref name="clock"/> of the first "partial" event (0 when none came).</summary>
    static async Task<double> Patch(HttpClient http, object body, Stopwatch? clock)
    {
        double firstPartial = 0;
        var job = await PostOk(http, "/api/patch", body);
        using var stream = await http.GetStreamAsync($"/api/jobs/{job["job"]}/events");
        using var reader = new StreamReader(stream);
        string? line, lastEvent = null;
        while ((line = await reader.ReadLineAsync()) is not null)
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                lastEvent = line["event: ".Length..];
                if (lastEvent == "partial" && firstPartial == 0 && clock is not null) firstPartial = clock.Elapsed.TotalSeconds;
            }
        if (lastEvent != "result") throw new SharpLensException($"explorer benchmark: patching job {job["job"]} ended with '{lastEvent}', not a result");
        return firstPartial;
    }
}
