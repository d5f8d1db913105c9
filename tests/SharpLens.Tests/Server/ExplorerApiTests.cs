using System.Net;
using System.Text.Json.Nodes;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Predictions;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Server;

/// <summary>The explorer's JSON endpoints against the library's own numbers, its validation messages, and its job queue.</summary>
public class ExplorerApiTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    internal static readonly object Input = new
    {
        clean = new[] { "We're helping our friend when they", "We are helping our friend when they" },
        corrupted = "swap_pairs",
        answers = new[] { new[] { "'re", " are" }, new[] { " are", "'re" } },
    };

    [Fact]
    public void Random_checkpoint_loads_as_the_weights_it_was_written_from()
    {
        var loaded = ModelLoader.Load(RandomCheckpoint.Shared);
        var cfg = RandomCheckpoint.Tiny;
        var expected = new HookedTransformer(cfg, WeightProcessing.Process(RandomWeights.Create(cfg, 1, 0.1f), WeightProcessingOptions.Default), true);
        var ids = new Gpt2Tokenizer().ToTokens("We're helping our friend");
        TensorAssert.Close(expected.Forward(ids), loaded.Forward(ids), "logits", 1e-4f);
    }

    [Fact]
    public async Task Predict_matches_test_prompt()
    {
        var (status, json) = await fx.Post("/api/predict", new { prompt = "We're helping our friend when they", answers = new[] { "'re", " are" }, top_k = 5 });
        Assert.Equal(200, status);
        var tok = fx.Model.RequireTokenizer();
        var ids = tok.ToTokens("We're helping our friend when they");
        var expected = NextTokenPrediction.Run(fx.Model, ids, 5, tok.ToSingleToken(" are"));
        Assert.Equal(expected.StrTokens, json["str_tokens"]!.AsArray().Select(n => n!.ToString()));
        Assert.Equal(expected.TopK.Select(t => t.TokenId), json["top_k"]!.AsArray().Select(n => n!["token_id"]!.GetValue<int>()));
        var answer = json["answers"]![1]!;
        Assert.Equal(expected.Answer!.Rank, answer["rank"]!.GetValue<int>());
        Assert.Equal(expected.Answer.Prob, answer["prob"]!.GetValue<float>(), 5);
    }

    [Fact]
    public async Task Attribute_matches_direct_logit_attribution()
    {
        var (status, json) = await fx.Post("/api/attribute", new { input = Input });
        Assert.Equal(200, status);
        var data = AnalysisInput.Parse(System.Text.Json.JsonSerializer.Serialize(Input), AnalysisInputOptions.For(fx.Model, false));
        var (_, cache) = fx.Model.RunWithCache(data.Clean, DirectLogitAttribution.NeededHooks(fx.Model.Config.NLayers), LogitsMode.None);
        var dla = DirectLogitAttribution.ForLogitDiff(fx.Model, cache, data.Clean, data.Answers);
        var heads = json["heads"]!["values"]!.AsArray();
        for (int l = 0; l < fx.Model.Config.NLayers; l++)
            for (int h = 0; h < fx.Model.Config.NHeads; h++) Assert.True(Math.Abs(dla.Heads[l, h] - heads[l]![h]!.GetValue<float>()) < 1e-5, $"head {l}.{h}");
        Assert.Equal(dla.LogitLens.Cols, json["logit_lens"]!["cols"]!.AsArray().Select(n => n!.ToString()));
        var top = json["top_heads"]![0]!;
        int best = Enumerable.Range(0, dla.Heads.Values.Length).MaxBy(i => Math.Abs(dla.Heads.Values.Data[i]));
        Assert.Equal($"L{best / fx.Model.Config.NHeads}H{best % fx.Model.Config.NHeads}", top["name"]!.ToString());
        Assert.Equal(["dla-logit-lens", "dla-layers", "dla-heads", "dla-neurons"], json["figures"]!.AsArray().Select(f => f!["id"]!.ToString()));
    }

    [Fact]
    public async Task Head_and_neuron_views_match_the_cache_and_the_OV_circuit()
    {
        const string prompt = "We're helping our friend";
        var ids = fx.Model.RequireTokenizer().ToTokens(prompt);
        var (_, cache) = fx.Model.RunWithCache(TokenBatch.Single(ids), [HookNames.Pattern(1), HookNames.MlpPost(0)], LogitsMode.None);
        var (status, head) = await fx.Post("/api/head", new { prompt, layer = 1, head = 2 });
        Assert.Equal(200, status);
        var pattern = head["pattern"]!.AsArray();
        for (int q = 0; q < ids.Length; q++)
            for (int k = 0; k < ids.Length; k++) Assert.Equal(cache[HookNames.Pattern(1)][0, 2, q, k], pattern[q]![k]!.GetValue<double>(), 5);

        // OV summary against W_OV = W_V W_O formed explicitly: Frobenius norm, and the top singular value by power iteration.
        int d = fx.Model.Config.DModel, dh = fx.Model.Config.DHead;
        var b = fx.Model.Weights.Blocks[1];
        var ov = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < dh; k++) ov[i, j] += (double)b.W_V.Data[(2 * d + i) * dh + k] * b.W_O.Data[(2 * dh + k) * d + j];
        double frob = Math.Sqrt(ov.Cast<double>().Sum(v => v * v));
        Assert.Equal(frob, head["ov"]!["frobenius_norm"]!.GetValue<double>(), 6);
        var x = Enumerable.Repeat(1.0, d).ToArray();
        double sigma = 0;
        for (int it = 0; it < 500; it++)
        {
            var y = new double[d]; var z = new double[d];
            for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) y[i] += ov[i, j] * x[j];
            for (int j = 0; j < d; j++) for (int i = 0; i < d; i++) z[j] += ov[i, j] * y[i];
            double norm = Math.Sqrt(z.Sum(v => v * v));
            sigma = Math.Sqrt(norm / Math.Sqrt(x.Sum(v => v * v)));
            x = z.Select(v => v / norm).ToArray();
        }
        var singular = head["ov"]!["singular_values"]!.AsArray().Select(n => n!.GetValue<double>()).ToArray();
        Assert.Equal(dh, singular.Length);
        Assert.Equal(sigma, singular[0], 4);
        var copying = SharpLens.Analysis.Weights.CopyingScore.Of(fx.Model, 1, 2).Score;
        Assert.Equal(copying, head["ov"]!["copying_score"]!.GetValue<double>(), 9);

        var (nStatus, neuron) = await fx.Post("/api/neuron", new { prompt, layer = 0, neuron = 5 });
        Assert.Equal(200, nStatus);
        var acts = neuron["activations"]!.AsArray();
        for (int p = 0; p < ids.Length; p++) Assert.Equal(cache[HookNames.MlpPost(0)][0, p, 5], acts[p]!.GetValue<double>(), 5);
    }

    [Theory]
    [InlineData("/api/predict", """{"prompt": "We're here", "answers": [" helping you"]}""", "is 2 tokens")]
    [InlineData("/api/predict", """{"prompt": ""}""", "the prompt is empty")]
    [InlineData("/api/head", """{"prompt": "We're here", "layer": 1, "head": 9}""", "head L1H9 does not exist")]
    [InlineData("/api/neuron", """{"prompt": "We're here", "layer": 5, "neuron": 1}""", "neuron L5N1 does not exist")]
    [InlineData("/api/attribute", """{"input": {"clean": ["We're here"], "answers": [["'re", " are"], [" are", "'re"]]}}""", "2 answer pairs for 1 prompts")]
    [InlineData("/api/patch", """{"input": {"clean": ["We're here", "We are here now"], "corrupted": "swap_pairs", "answers": [["'re", " are"], [" are", "'re"]]}, "kinds": ["resid_pre"]}""", "position-aligned patching needs equal lengths")]
    [InlineData("/api/patch", """{"input": {"clean": ["a"], "corrupted": ["b"], "answers": [["'re", " are"]]}, "kinds": ["bogus"]}""", "unknown patch kind 'bogus'")]
    [InlineData("/api/predict", """not json""", "request is not valid JSON")]
    public async Task Bad_requests_get_one_line_errors(string path, string body, string needle)
    {
        using var response = await fx.Http.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.ToString();
        Assert.Contains(needle, error);
        Assert.DoesNotContain("\n", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Prompt_over_the_context_is_refused()
    {
        string longPrompt = string.Join(" ", Enumerable.Repeat("word", fx.Model.Config.NCtx + 5));
        var (status, json) = await fx.Post("/api/predict", new { prompt = longPrompt });
        Assert.Equal(400, status);
        Assert.Contains($"longer than the model's context of {fx.Model.Config.NCtx}", json["error"]!.ToString());
    }

    [Fact]
    public async Task Patching_job_streams_progress_and_matches_the_exact_engine()
    {
        var (status, job) = await fx.Post("/api/patch", new { input = Input, kinds = new[] { "resid_pre", "head_out", "neurons" }, neuron_layers = new[] { 1 } });
        Assert.Equal(200, status);
        var events = await ReadEvents(job["job"]!.ToString());
        // A subscriber that arrives after the job finished gets only the final event (an idle machine finishes this
        // tiny job before the stream opens), so progress is checked where it is always present: every progress event
        // is within its total, and the final event reports the last sweep complete.
        foreach (var (_, progress) in events.Where(e => e.Name == "progress"))
            Assert.InRange((int)progress["done"]!, 0, (int)progress["total"]!);
        var (name, final) = events[^1];
        Assert.Equal("result", name);
        Assert.True((int)final["total"]! > 0);
        Assert.Equal((int)final["total"]!, (int)final["done"]!);
        var result = final["result"]!;

        var data = AnalysisInput.Parse(System.Text.Json.JsonSerializer.Serialize(Input), AnalysisInputOptions.For(fx.Model));
        var patcher = new ActivationPatcher(fx.Model, new PatchingInputs(data.Clean, data.Corrupted, new LogitDiffMetric(data.Answers)),
            new PatchingOptions { StrTokens = data.CleanStrTokens[0] });
        var resid = patcher.Normalize(patcher.ByPosition("resid_pre"));
        var heads = patcher.Normalize(patcher.HeadsAllPositions(HeadActivation.Output));
        var neurons = patcher.Normalize(patcher.Neurons([1]));
        AssertGrid(resid, result["resid_pre"]!);
        AssertGrid(heads, result["head_out"]!);
        AssertGrid(neurons, result["neurons_L1"]!);
        Assert.Equal(["patch-resid_pre", "patch-head_out", "patch-neurons_L1"], final["figures"]!.AsArray().Select(f => f!["id"]!.ToString()));
    }

    [Fact]
    public async Task Queued_jobs_run_in_order_and_can_be_cancelled()
    {
        // The gate holds the first job after its first pass: it is certainly running while the second waits.
        var body = new { input = Input, kinds = new[] { "resid_pre", "neurons" }, neuron_layers = new[] { 0, 1 } };
        fx.ProgressGate.Reset();
        try
        {
            var (_, first) = await fx.Post("/api/patch", body);
            var (_, second) = await fx.Post("/api/patch", body);
            Assert.Equal("queued", second["state"]!.ToString());
            Assert.Equal(1, second["ahead"]!.GetValue<int>());
            var (cs, cancel) = await fx.Post($"/api/jobs/{second["job"]}/cancel", new { });
            Assert.Equal(200, cs);
            Assert.True(cancel["cancelled"]!.GetValue<bool>());
            await WaitFor(first["job"]!.ToString(), "running");
            var (_, cancelFirst) = await fx.Post($"/api/jobs/{first["job"]}/cancel", new { });
            Assert.True(cancelFirst["cancelled"]!.GetValue<bool>());
            var firstEvents = await ReadEvents(first["job"]!.ToString());
            Assert.Equal("cancelled", firstEvents[^1].Name);
            var secondEvents = await ReadEvents(second["job"]!.ToString());
            Assert.Equal("cancelled", secondEvents[^1].Name);
            Assert.Equal(0, secondEvents[^1].Data["done"]!.GetValue<int>());
        }
        finally { fx.ProgressGate.Set(); }
        // and the queue still works afterwards
        var (_, third) = await fx.Post("/api/patch", body);
        Assert.Equal("result", (await ReadEvents(third["job"]!.ToString()))[^1].Name);
        var (missing, error) = await fx.Post("/api/jobs/job999999/cancel", new { });
        Assert.Equal(404, missing);
        Assert.Contains("no job", error["error"]!.ToString());
    }

    [Fact]
    public async Task Export_writes_a_report_folder_that_sharplens_plot_can_redraw()
    {
        var (status, json) = await fx.Post("/api/export", new { input = Input, view_head = new { layer = 0, head = 1 }, title = "export test" });
        Assert.True(status == 200, json.ToJsonString() + string.Join("\n", fx.ServerLog));
        string folder = json["folder"]!.ToString();
        Assert.True(File.Exists(Path.Combine(folder, "index.html")));
        var result = JsonNode.Parse(File.ReadAllText(json["result"]!.ToString()))!;
        Assert.Equal("export test", result["title"]!.ToString());
        Assert.True(SharpLens.Reports.GridPlotter.IsGrid(result["heads"]!));
        Assert.Contains("Attention pattern of L0H1", File.ReadAllText(Path.Combine(folder, "index.html")));
        // The export is listed in the reports folder's index with kind "report", linking to its page.
        Assert.Equal("report", JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "report.json")))!["kind"]!.ToString());
        string index = File.ReadAllText(json["reports_index"]!.ToString());
        Assert.Equal(Path.Combine(Path.GetFullPath(fx.ReportsDir), "index.html"), json["reports_index"]!.ToString());
        string name = Path.GetFileName(folder);
        Assert.Contains($"<tr data-kind=\"report\"><td><a href=\"{Uri.EscapeDataString(name)}/index.html\">export test</a>", index);
        var (missing, error) = await fx.Post("/api/export", new { input = Input, job = "job424242" });
        Assert.Equal(400, missing);
        Assert.Contains("no longer kept", error["error"]!.ToString());
    }

    internal static void AssertGrid(SharpLens.Analysis.Grid expected, JsonNode actual)
    {
        Assert.Equal(expected.Rows, actual["rows"]!.AsArray().Select(n => n!.ToString()));
        Assert.Equal(expected.Cols, actual["cols"]!.AsArray().Select(n => n!.ToString()));
        var values = actual["values"]!.AsArray();
        for (int r = 0; r < expected.Rows.Count; r++)
            for (int c = 0; c < expected.Cols.Count; c++) Assert.True(Math.Abs(expected[r, c] - values[r]![c]!.GetValue<float>()) < 1e-4, $"cell {r},{c}");
    }

    async Task WaitFor(string job, string state)
    {
        for (int i = 0; i < 600; i++)
        {
            var status = JsonNode.Parse(await fx.Http.GetStringAsync($"/api/jobs/{job}"))!;
            if (status["state"]!.ToString() == state) return;
            await Task.Delay(50);
        }
        Assert.Fail($"{job} never reached state {state}");
    }

    Task<List<(string Name, JsonObject Data)>> ReadEvents(string job) => ReadEvents(fx, job);

    /// <summary>Every server-sent event of a job until its stream ends (the job finished).</summary>
    internal static async Task<List<(string Name, JsonObject Data)>> ReadEvents(ExplorerFixture fx, string job)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = await fx.Http.GetStreamAsync($"/api/jobs/{job}/events", cts.Token);
        using var reader = new StreamReader(stream);
        var events = new List<(string, JsonObject)>();
        string? name = null, line;
        while ((line = await reader.ReadLineAsync(cts.Token)) is not null)
        {
            if (line.StartsWith("event: ")) name = line[7..];
            else if (line.StartsWith("data: ")) events.Add((name!, JsonNode.Parse(line[6..])!.AsObject()));
        }
        return events;
    }
}
