using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Predictions;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Server;

/// <summary>Several clients at once on loopback: every answer must equal the library's, and memory must stay bounded.</summary>
[Collection(SerialTests.Name)]
public class ExplorerLoadTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    static readonly string[] Prompts =
    [
        "We're helping our friend when they", "I'm cooking dinner and I", "She's at home studying while they",
        "You're late again because you", "They're building a house near", "He's reading a book about",
    ];

    [Fact]
    public async Task Concurrent_clients_all_get_correct_answers_with_bounded_memory()
    {
        var tok = fx.Model.RequireTokenizer();
        var expectedTop = Prompts.ToDictionary(p => p, p => NextTokenPrediction.Run(fx.Model, tok.ToTokens(p), 5).TopK.Select(t => t.TokenId).ToArray());
        var expectedPattern = Prompts.ToDictionary(p => p, p =>
        {
            var ids = tok.ToTokens(p);
            var (_, cache) = fx.Model.RunWithCache(TokenBatch.Single(ids), [HookNames.Pattern(1)], LogitsMode.None);
            return cache[HookNames.Pattern(1)][0, 3, ids.Length - 1, 0];
        });
        // warm up, then measure the managed heap after a full collection before and after the load
        await fx.Post("/api/predict", new { prompt = Prompts[0] });
        long before = Heap();
        const int clients = 6, requestsEach = 8;
        var peak = 0L;
        var watch = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            using var http = new HttpClient { BaseAddress = fx.Server.Address, Timeout = TimeSpan.FromSeconds(60) };
            for (int i = 0; i < requestsEach; i++)
            {
                string prompt = Prompts[(c + i) % Prompts.Length];
                if (i % 3 == 2)
                {
                    using var r = await http.PostAsJsonAsync("/api/head", new { prompt, layer = 1, head = 3 });
                    var json = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
                    var pattern = json["pattern"]!.AsArray();
                    Assert.Equal(expectedPattern[prompt], pattern[^1]![0]!.GetValue<double>(), 5);
                }
                else
                {
                    using var r = await http.PostAsJsonAsync("/api/predict", new { prompt, top_k = 5 });
                    Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
                    var json = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
                    Assert.Equal(expectedTop[prompt], json["top_k"]!.AsArray().Select(t => t!["token_id"]!.GetValue<int>()));
                }
                Interlocked.Exchange(ref peak, Math.Max(Interlocked.Read(ref peak), GC.GetTotalMemory(false)));
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        watch.Stop();
        long after = Heap();
        // 48 requests of a few hundred KiB of JSON each: retained growth must be far below what keeping them would cost.
        Assert.True(after - before < 64L << 20, $"managed heap grew by {(after - before) >> 20} MiB");
        Assert.True(peak < before + (512L << 20), $"peak managed heap {peak >> 20} MiB");
        Console.WriteLine($"explorer load: {clients * requestsEach} requests from {clients} clients in {watch.Elapsed.TotalSeconds:F1} s; heap {before >> 20} -> {after >> 20} MiB, peak {peak >> 20} MiB");
    }

    static long Heap()
    {
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        return GC.GetTotalMemory(true);
    }
}
