using System.Text.Json;
using Microsoft.Playwright;
using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Tests.Reports;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Server;

/// <summary>
/// Patching from the explorer's page in Chromium beyond the exact engine: attribution patching (every heatmap equal to
/// the library's <see cref="AttributionPatcher"/>), and a full queue answered with a clear message in the page.
/// </summary>
[Collection(SerialTests.Name)]
public class ExplorerPatchingBrowserTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    const string Prompts = "We're helping our friend when they\nWe are helping our friend when they";
    const string Answers = "\"'re\", \" are\"\n\" are\", \"'re\"";

    static async Task FillInput(IPage page)
    {
        await page.FillAsync("#prompts", Prompts);
        await page.FillAsync("#answers", Answers);
        await page.CheckAsync("#swap");
    }

    [ChromiumFact]
    public async Task Attribution_patching_from_the_page_shows_the_librarys_numbers()
    {
        await using var s = await ExplorerBrowser.Open(fx);
        var page = s.Page;
        await FillInput(page);
        foreach (var kind in new[] { "resid_pre", "attn_out", "mlp_out", "head_out", "neurons" }) await page.CheckAsync($"#kind-{kind}");
        await page.FillAsync("#neuron-layers", "0,1");
        await page.SelectOptionAsync("#method", "attribution");
        await page.ClickAsync("#patch-run");
        await ExplorerBrowser.WaitText(page, "#patch-status", "done");
        await page.WaitForSelectorAsync("#patch-neurons_L1 .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });

        var data = AnalysisInput.Parse(JsonSerializer.Serialize(ExplorerApiTests.Input), AnalysisInputOptions.For(fx.Model));
        var engine = new AttributionPatcher(fx.Model, new PatchingInputs(data.Clean, data.Corrupted, new LogitDiffMetric(data.Answers)));
        Grid Expected(string name, int? layer = null) => engine.Normalize(engine.Run(engine.Sweep(name, layer is int l ? [l] : null)));
        foreach (var key in new[] { "resid_pre", "attn_out", "mlp_out", "head_out" })
        {
            var grid = Expected(key);
            var z = await ExplorerBrowser.Z(page, $"patch-{key}");
            Assert.Equal(grid.Rows.Count, z.Length);
            for (int r = 0; r < grid.Rows.Count; r++)
                for (int c = 0; c < grid.Cols.Count; c++) Assert.True(Math.Abs(grid[r, c] - z[r][c]) < 1e-4, $"{key} {r},{c}: page {z[r][c]}, library {grid[r, c]}");
        }
        foreach (int layer in new[] { 0, 1 })
        {
            var grid = Expected("neurons", layer);
            var y = await page.EvaluateAsync<double[]>($"() => document.getElementById('patch-neurons_L{layer}').data[0].y");
            Assert.Equal(grid.Cols.Count, y.Length);
            for (int n = 0; n < y.Length; n++) Assert.True(Math.Abs(grid[0, n] - y[n]) < 1e-4, $"neurons_L{layer} {n}");
        }
        // A cell's details give the same number, and the URL keeps the method.
        await ExplorerBrowser.ClickCell(page, "patch-head_out", 1, 2);
        await ExplorerBrowser.WaitText(page, "#cell-title", "head_out");
        Assert.Contains(Expected("head_out")[1, 2].ToString("F4"), await page.Locator("#cell-title").TextContentAsync() ?? "");
        Assert.Contains("method=attribution", await page.Locator("#share").GetAttributeAsync("href") ?? "");
        Assert.Empty(s.Errors);
        Assert.Empty(s.Foreign);
    }

    [ChromiumFact]
    public async Task Exact_patching_shows_each_kind_as_soon_as_it_is_done()
    {
        await using var s = await ExplorerBrowser.Open(fx);
        var page = s.Page;
        await FillInput(page);
        var data = AnalysisInput.Parse(JsonSerializer.Serialize(ExplorerApiTests.Input), AnalysisInputOptions.For(fx.Model));
        var patcher = new ActivationPatcher(fx.Model, new PatchingInputs(data.Clean, data.Corrupted, new LogitDiffMetric(data.Answers)),
            new PatchingOptions { StrTokens = data.CleanStrTokens[0] });
        // Default kinds resid_pre, attn_out, mlp_out, head_out; the gate holds the job after each finished kind.
        fx.PartialGate.Reset();
        try
        {
            await page.ClickAsync("#patch-run");
            await page.WaitForSelectorAsync("#patch-resid_pre .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
            // The first kind is on the page, with the library's numbers and a working cell click, while the job still runs.
            var resid = patcher.Normalize(patcher.ByPosition("resid_pre"));
            var z = await ExplorerBrowser.Z(page, "patch-resid_pre");
            for (int r = 0; r < resid.Rows.Count; r++)
                for (int c = 0; c < resid.Cols.Count; c++) Assert.True(Math.Abs(resid[r, c] - z[r][c]) < 1e-4, $"resid_pre {r},{c}: page {z[r][c]}, library {resid[r, c]}");
            Assert.Equal(0, await page.Locator("#patch-head_out").CountAsync());
            Assert.DoesNotContain("done", await page.Locator("#patch-status").TextContentAsync() ?? "");
            Assert.False(await page.Locator("#patch-cancel").IsDisabledAsync());
            await ExplorerBrowser.ClickCell(page, "patch-resid_pre", 1, resid.Cols.Count - 1);
            await ExplorerBrowser.WaitText(page, "#cell-title", "resid_pre");
            Assert.Contains(resid[1, resid.Cols.Count - 1].ToString("F4"), await page.Locator("#cell-title").TextContentAsync() ?? "");
        }
        finally { fx.PartialGate.Set(); }
        await ExplorerBrowser.WaitText(page, "#patch-status", "done");
        await page.WaitForSelectorAsync("#patch-head_out .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        // Each kind drawn once, in the order asked for.
        var order = await page.EvaluateAsync<string[]>("() => Array.from(document.querySelectorAll('#patch-figures .ex-figure')).map(f => f.dataset.figure)");
        Assert.Equal(new[] { "patch-resid_pre", "patch-attn_out", "patch-mlp_out", "patch-head_out" }, order);
        var heads = patcher.Normalize(patcher.HeadsAllPositions(HeadActivation.Output));
        var hz = await ExplorerBrowser.Z(page, "patch-head_out");
        for (int r = 0; r < heads.Rows.Count; r++)
            for (int c = 0; c < heads.Cols.Count; c++) Assert.True(Math.Abs(heads[r, c] - hz[r][c]) < 1e-4, $"head_out {r},{c}");
        Assert.Empty(s.Errors);
        Assert.Empty(s.Foreign);
    }

    [ChromiumFact]
    public async Task A_full_patching_queue_is_a_clear_message_in_the_page()
    {
        await using var s = await ExplorerBrowser.Open(fx);
        var page = s.Page;
        await FillInput(page);
        var answers = new List<int>();
        var accepted = new List<Task<string>>();
        page.Response += (_, r) =>
        {
            if (!r.Url.EndsWith("/api/patch", StringComparison.Ordinal)) return;
            lock (answers)
            {
                answers.Add(r.Status);
                if (r.Status == 200) accepted.Add(r.TextAsync());
            }
        };
        // The gate holds the running job after its first pass, so every further click waits in the queue until it is full.
        fx.ProgressGate.Reset();
        try
        {
            for (int click = 0; click < 10; click++)
            {
                await page.ClickAsync("#patch-run");
                await page.WaitForFunctionAsync("() => !document.getElementById('error').hidden || document.getElementById('patch-status').textContent !== 'queued'");
                if (await page.Locator("#error").IsVisibleAsync()) break;
            }
            Assert.Equal("the patching queue is full: wait for a job to finish or cancel one", await page.Locator("#error").TextContentAsync());
            lock (answers)
            {
                Assert.Equal(429, answers[^1]);
                Assert.All(answers[..^1], status => Assert.Equal(200, status));
                // One running job plus the queue's capacity were accepted (the first may still have been queued when the
                // second arrived, in which case one fewer fits).
                Assert.InRange(answers.Count - 1, new SharpLens.Server.ExplorerOptions().MaxQueuedJobs, new SharpLens.Server.ExplorerOptions().MaxQueuedJobs + 1);
            }
        }
        finally
        {
            // Cancel what was accepted, so the next test starts with an empty queue.
            foreach (var job in accepted)
                await fx.Post($"/api/jobs/{System.Text.Json.Nodes.JsonNode.Parse(await job)!["job"]}/cancel", new { });
            fx.ProgressGate.Set();
        }
        // Chromium logs the refused request itself; nothing else may be an error.
        Assert.All(s.Errors, e => Assert.Contains("status of 429", e));
        Assert.Empty(s.Foreign);
    }
}
