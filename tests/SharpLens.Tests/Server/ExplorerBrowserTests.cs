using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Inputs;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Analysis.Predictions;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Reports;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Server;

/// <summary>
/// The explorer in real Chromium: every interaction driven with the mouse and keyboard on a tiny random model, what
/// the page shows checked against the library's numbers, no request leaving the server, and no console errors.
/// </summary>
[Collection(SerialTests.Name)]
public class ExplorerBrowserTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    const string Prompt1 = "We're helping our friend when they", Prompt2 = "We are helping our friend when they";

    Task<ExplorerBrowser.Session> Open(string pathAndQuery = "") => ExplorerBrowser.Open(fx, pathAndQuery);
    static Task<double[][]> Z(IPage page, string id) => ExplorerBrowser.Z(page, id);
    static Task ClickCell(IPage page, string id, int row, int col) => ExplorerBrowser.ClickCell(page, id, row, col);
    static Task WaitText(IPage page, string selector, string text, int timeoutMs = TestTimeouts.BrowserMs) => ExplorerBrowser.WaitText(page, selector, text, timeoutMs);

    AnalysisInput Input() => AnalysisInput.Parse(JsonSerializer.Serialize(ExplorerApiTests.Input), AnalysisInputOptions.For(fx.Model));

    [ChromiumFact]
    public async Task Every_interaction_shows_the_librarys_numbers()
    {
        await using var s = await Open();
        var page = s.Page;
        var tok = fx.Model.RequireTokenizer();

        // prompt -> tokens, top predictions, answer ranks
        await page.FillAsync("#prompts", Prompt1 + "\n" + Prompt2);
        await page.FillAsync("#answers", "\"'re\", \" are\"\n\" are\", \"'re\"");
        await page.CheckAsync("#swap");
        await page.ClickAsync("#run");
        await page.WaitForSelectorAsync("#dla-heads .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });
        var ids = tok.ToTokens(Prompt1);
        var expected = NextTokenPrediction.Run(fx.Model, ids, 10, tok.ToSingleToken("'re"));
        for (int i = 0; i < ids.Length; i++) Assert.StartsWith(expected.StrTokens[i], await page.Locator($"#tok-{i}").TextContentAsync() ?? "");
        Assert.Contains($"rank {expected.Answer!.Rank} ", await page.Locator("#answer-0").TextContentAsync() ?? "");
        Assert.Contains(expected.TopK[0].Token.Replace("\n", "\\n"), await page.Locator("#predict-topk").TextContentAsync() ?? "");

        // answer pair -> logit lens, per-layer and per-head DLA, top heads
        var data = Input();
        var (_, cache) = fx.Model.RunWithCache(data.Clean, DirectLogitAttribution.NeededHooks(fx.Model.Config.NLayers), LogitsMode.None);
        var dla = DirectLogitAttribution.ForLogitDiff(fx.Model, cache, data.Clean, data.Answers);
        var z = await Z(page, "dla-heads");
        for (int l = 0; l < fx.Model.Config.NLayers; l++)
            for (int h = 0; h < fx.Model.Config.NHeads; h++) Assert.True(Math.Abs(dla.Heads[l, h] - z[l][h]) < 1e-5);
        var lens = await page.EvaluateAsync<double[]>("() => document.getElementById('dla-logit-lens').data[0].y");
        Assert.True(Math.Abs(dla.LogitLens[0, lens.Length - 1] - lens[^1]) < 1e-5);
        Assert.Contains(dla.MeasuredLogitDiff.Average().ToString("F4"), await page.Locator("#logit-diff").TextContentAsync() ?? "");

        // click a head in the per-head heatmap -> attention pattern and OV summary
        await ClickCell(page, "dla-heads", 1, 2);
        await WaitText(page, "#head-title", "L1H2");
        await page.WaitForSelectorAsync("#head-attention-plot .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        var (_, one) = fx.Model.RunWithCache(TokenBatch.Single(ids), [HookNames.Pattern(1)], LogitsMode.None);
        var pattern = await Z(page, "head-attention-plot");
        for (int q = 0; q < ids.Length; q++)
            for (int k = 0; k < ids.Length; k++) Assert.True(Math.Abs(one[HookNames.Pattern(1)][0, 2, q, k] - pattern[q][k]) < 1e-5);
        Assert.Contains(SharpLens.Analysis.Weights.HeadCircuits.OV(fx.Model, 1, 2).Norm().ToString("F4"), await page.Locator("#head-ov").TextContentAsync() ?? "");
        await page.Locator("#head-attention-tok-3").HoverAsync();
        Assert.Contains("attends to", await page.Locator("#head-attention-info").TextContentAsync() ?? "");

        // a top-head chip opens that head too
        var topName = $"L{dla.Heads.Values.Data.Select((v, i) => (v, i)).MaxBy(p => Math.Abs(p.v)).i / fx.Model.Config.NHeads}H";
        await page.Locator("#top-heads button").First.ClickAsync();
        await WaitText(page, "#head-title", topName);

        // patching with live progress -> heatmaps equal to the exact engine; click a cell for details
        foreach (var kind in new[] { "resid_pre", "attn_out", "mlp_out", "head_out", "neurons" })
            await page.CheckAsync($"#kind-{kind}");
        await page.FillAsync("#neuron-layers", "1");
        await page.ClickAsync("#patch-run");
        await WaitText(page, "#patch-status", "done");
        await page.WaitForSelectorAsync("#patch-neurons_L1 .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        var patcher = new ActivationPatcher(fx.Model, new PatchingInputs(data.Clean, data.Corrupted, new LogitDiffMetric(data.Answers)),
            new PatchingOptions { StrTokens = data.CleanStrTokens[0] });
        var resid = patcher.Normalize(patcher.ByPosition("resid_pre"));
        var residZ = await Z(page, "patch-resid_pre");
        for (int r = 0; r < resid.Rows.Count; r++)
            for (int c = 0; c < resid.Cols.Count; c++) Assert.True(Math.Abs(resid[r, c] - residZ[r][c]) < 1e-4, $"resid_pre {r},{c}");
        Assert.Equal(await page.EvalOnSelectorAsync<double>("#patch-progress", "e => e.max"), await page.EvalOnSelectorAsync<double>("#patch-progress", "e => e.value"));
        var heads = patcher.Normalize(patcher.HeadsAllPositions(HeadActivation.Output));
        await ClickCell(page, "patch-head_out", 0, 3);
        await WaitText(page, "#cell-title", "head_out");
        Assert.Contains(heads[0, 3].ToString("F4"), await page.Locator("#cell-title").TextContentAsync() ?? "");
        Assert.Equal(2, await page.Locator(".ex-cell-prompt").CountAsync());
        await WaitText(page, "#head-title", "L0H3");

        // click a neuron (a point of the neuron patching line) -> its activation on the prompt
        var neurons = patcher.Normalize(patcher.Neurons([1]));
        await page.Locator("#patch-neurons_L1").ScrollIntoViewIfNeededAsync();
        var point = page.Locator("#patch-neurons_L1 .scatterlayer .point").Nth(7);
        var box = (await point.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + box.Width / 2 - 4, box.Y + box.Height / 2 - 4);
        await page.Mouse.ClickAsync(box.X + box.Width / 2, box.Y + box.Height / 2);
        await WaitText(page, "#neuron-title", "L1N7");
        Assert.Contains(neurons[0, 7].ToString("F4"), await page.Locator("#cell-title").TextContentAsync() ?? "");
        var (_, post) = fx.Model.RunWithCache(TokenBatch.Single(ids), [HookNames.MlpPost(1)], LogitsMode.None);
        for (int p = 0; p < ids.Length; p++)
            Assert.EndsWith(post[HookNames.MlpPost(1)][0, p, 7].ToString("F4"), await page.Locator($"#act-{p}").TextContentAsync() ?? "");

        // export the screen as a report folder in the format of sharplens plot
        await page.ClickAsync("#export");
        await WaitText(page, "#export-status", "wrote ");
        var folder = Directory.GetDirectories(fx.ReportsDir).Single(d => !d.EndsWith(".tmp"));
        Assert.True(File.Exists(Path.Combine(folder, "index.html")));
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "result.json")))!;
        ExplorerApiTests.AssertGrid(dla.Heads, result["heads"]!);
        ExplorerApiTests.AssertGrid(resid, result["resid_pre"]!);
        var reportHtml = File.ReadAllText(Path.Combine(folder, "index.html"));
        Assert.Contains("Attention pattern of L0H3", reportHtml);
        Assert.Contains("L1N7", reportHtml);

        // the shared URL reproduces the view in a fresh page (prompts, head, neuron, and the patching re-run)
        string share = await page.Locator("#share").GetAttributeAsync("href") ?? "";
        Assert.Contains("head=L0H3", share);
        Assert.Contains("neuron=L1N7", share);
        await using (var again = await Open(share.TrimStart('/')))
        {
            await WaitText(again.Page, "#head-title", "L0H3");
            await WaitText(again.Page, "#neuron-title", "L1N7");
            await WaitText(again.Page, "#patch-status", "done");
            await again.Page.WaitForSelectorAsync("#patch-resid_pre .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
            Assert.Equal(residZ, await Z(again.Page, "patch-resid_pre"));
            Assert.Equal(z, await Z(again.Page, "dla-heads"));
            Assert.Empty(again.Errors);
            Assert.Empty(again.Foreign);
        }
        await page.Mouse.MoveAsync(0, 0);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppContext.BaseDirectory, "TestResults", "explorer.png"), FullPage = true });
        Assert.Empty(s.Errors);
        Assert.Empty(s.Foreign);
    }

    [ChromiumFact]
    public async Task Bad_input_shows_a_clear_message_and_patching_can_be_cancelled()
    {
        await using var s = await Open();
        var page = s.Page;
        await page.FillAsync("#prompts", Prompt1);
        await page.FillAsync("#answers", "\" helping you\", \" are\"");
        await page.UncheckAsync("#swap");   // the form opens with the study's example, whose pairs are swapped
        await page.ClickAsync("#run");
        await page.WaitForSelectorAsync("#error:not([hidden])");
        var message = await page.Locator("#error").TextContentAsync() ?? "";
        Assert.Contains("not one: choose a single-token answer", message);
        Assert.DoesNotContain(" at ", message);

        await page.FillAsync("#answers", "\"'re\", \" are\"");
        await page.FillAsync("#corrupted", "We are helping");
        await page.ClickAsync("#patch-run");
        await WaitText(page, "#error", "position-aligned patching needs equal lengths");

        // A running job cancelled from the page (the gate holds it after its first pass, so it is certainly running).
        await page.FillAsync("#prompts", Prompt1 + "\n" + Prompt2);
        await page.FillAsync("#answers", "\"'re\", \" are\"\n\" are\", \"'re\"");
        await page.FillAsync("#corrupted", "");
        await page.CheckAsync("#swap");
        fx.ProgressGate.Reset();
        try
        {
            await page.ClickAsync("#patch-run");
            await page.WaitForFunctionAsync("() => /[1-9]\\d* \\/ \\d+/.test(document.getElementById('patch-status').textContent)");
            Assert.True(await page.EvalOnSelectorAsync<double>("#patch-progress", "e => e.value") > 0);
            await page.ClickAsync("#patch-cancel");
            await WaitText(page, "#patch-status", "cancelled");
        }
        finally { fx.ProgressGate.Set(); }
        // Only the refused requests themselves may have been logged (Chromium reports every 4xx response).
        Assert.All(s.Errors, e => Assert.Contains("status of 400", e));
        Assert.Empty(s.Foreign);
    }
}
