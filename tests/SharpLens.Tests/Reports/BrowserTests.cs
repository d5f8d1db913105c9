using SharpLens.Tests.Support;
using Microsoft.Playwright;
using SharpLens.Reports;

namespace SharpLens.Tests.Reports;

/// <summary>A fact that needs Debian's Chromium (<c>/usr/bin/chromium</c>, or <c>SHARPLENS_CHROMIUM</c>); skipped with the reason when it is missing.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public static string ChromiumPath => Environment.GetEnvironmentVariable("SHARPLENS_CHROMIUM") is { Length: > 0 } p ? p : "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(ChromiumPath)) Skip = $"Chromium not found at {ChromiumPath} (apt-get install chromium, or set SHARPLENS_CHROMIUM)";
    }
}

/// <summary>
/// End-to-end: write a report with every figure kind, open it in headless Chromium (no browser download:
/// Playwright drives the system Chromium), check every figure renders, no console errors, hover labels, and save screenshots.
/// Screenshots and the report go to TestResults/screenshots and TestResults/report under the test output folder
/// (or under SHARPLENS_ARTIFACTS when set).
/// </summary>
public class BrowserTests
{
    internal static string ArtifactsRoot => Environment.GetEnvironmentVariable("SHARPLENS_ARTIFACTS") is { Length: > 0 } a ? a : Path.Combine(AppContext.BaseDirectory, "TestResults");
    internal static string Screenshots { get { var d = Path.Combine(ArtifactsRoot, "screenshots"); Directory.CreateDirectory(d); return d; } }

    internal static async Task<(IPlaywright, IBrowser)> Launch()
    {
        var pw = await Playwright.CreateAsync();
        var browser = await pw.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.ChromiumPath, Headless = true,
            Args = new[] { "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage" },
        });
        return (pw, browser);
    }

    /// <summary>Opens a file page, blocking (and recording) any request that is not file://, and collecting console errors.</summary>
    internal static async Task<(IPage Page, List<string> Errors, List<string> Remote)> Open(IBrowser browser, string path, int width = 1400, int height = 1000)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.SetDefaultTimeout(TestTimeouts.BrowserMs);
        var errors = new List<string>(); var remote = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        await page.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith("file:", StringComparison.Ordinal) || route.Request.Url.StartsWith("data:", StringComparison.Ordinal)) await route.ContinueAsync();
            else { remote.Add(route.Request.Url); await route.AbortAsync(); }
        });
        await page.GotoAsync(new Uri(Path.GetFullPath(path)).AbsoluteUri, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        return (page, errors, remote);
    }

    static async Task<string> HoverPlotCenter(IPage page, string plotId, double fx = 0.5, double fy = 0.5)
    {
        var drag = page.Locator($"#{plotId} .nsewdrag").First;
        await drag.ScrollIntoViewIfNeededAsync();
        var box = (await drag.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync((float)(box.X + box.Width * fx - 3), (float)(box.Y + box.Height * fy - 3));
        await page.Mouse.MoveAsync((float)(box.X + box.Width * fx), (float)(box.Y + box.Height * fy), new MouseMoveOptions { Steps = 3 });
        var label = page.Locator($"#{plotId} .hoverlayer .hovertext").First;
        await label.WaitForAsync(new LocatorWaitForOptions { Timeout = TestTimeouts.BrowserMs });
        return await label.TextContentAsync() ?? "";
    }

    static async Task<string> HoverPoint(IPage page, string plotId, int index)
    {
        await page.Locator($"#{plotId}").ScrollIntoViewIfNeededAsync();
        var pt = page.Locator($"#{plotId} .scatterlayer .point").Nth(index);
        var box = (await pt.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + box.Width / 2 - 4, box.Y + box.Height / 2 - 4);
        await page.Mouse.MoveAsync(box.X + box.Width / 2, box.Y + box.Height / 2, new MouseMoveOptions { Steps = 3 });
        var label = page.Locator($"#{plotId} .hoverlayer .hovertext").First;
        await label.WaitForAsync(new LocatorWaitForOptions { Timeout = TestTimeouts.BrowserMs });
        return await label.TextContentAsync() ?? "";
    }

    [ChromiumFact]
    public async Task Report_with_every_figure_kind_renders_in_chromium()
    {
        var dir = Path.Combine(ArtifactsRoot, "report");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        var report = Samples.FullReport();
        report.StaticImages = false;
        var index = report.Write(dir);

        var (pw, browser) = await Launch();
        try
        {
            var (page, errors, remote) = await Open(browser, index);
            // every Plotly figure has drawn its SVG
            var plots = page.Locator(".sl-plot");
            int n = await plots.CountAsync();
            Assert.Equal(7, n); // 2 heatmaps, small multiples, line, scatter, bar, attention
            for (int i = 0; i < n; i++)
                await plots.Nth(i).Locator(".main-svg").First.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });
            Assert.Equal(3, await page.Locator("#fig-03-patching-by-template .nsewdrag").CountAsync()); // one subplot per group

            // heatmap: hover a cell shows row, column and value
            var hm = await HoverPlotCenter(page, "fig-01-residual-stream-patching");
            Assert.Contains("value", hm);
            Assert.Contains("layer", hm);
            await page.Locator("#figure-1").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Screenshots, "heatmap-hover.png") });

            // line chart: per-point labels such as "7_attn_out"
            var line = await HoverPoint(page, "fig-04-logit-lens-accumulated-residual", 14);
            Assert.Matches(@"\d+_(attn|mlp)_out", line);

            // scatter: hover names like L7H11 (hover the first point exactly)
            Assert.Matches(@"L\d+H\d+", await HoverPoint(page, "fig-05-head-dla-clean-vs-corrupted", 7));
            await page.Locator("#figure-5").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Screenshots, "scatter-hover.png") });

            // bar chart with error bars
            Assert.True(await page.Locator("#fig-06-name-mover-heads-95-ci .errorbar").CountAsync() >= 5);

            // attention: heads selector, hover a token highlights where it attends / what attends to it
            const string att = "fig-07-name-mover-attention";
            Assert.Equal(4, await page.Locator($"#{att} .sl-head").CountAsync());
            await page.Locator($"#{att}-head-1").ClickAsync();
            Assert.Contains("sl-active", await page.Locator($"#{att}-head-1").GetAttributeAsync("class") ?? "");
            await page.Locator($"#{att}-tok-4").HoverAsync();
            var info = await page.Locator($"#{att}-info").TextContentAsync() ?? "";
            Assert.Contains("L9H9", info);
            Assert.Contains("attends to", info);
            Assert.Contains("attended by", info);
            var bg = await page.Locator($"#{att}-tok-2").EvaluateAsync<string>("e => e.style.background");
            Assert.StartsWith("rgb", bg);
            var attHover = await HoverPlotCenter(page, att + "-plot", 0.2, 0.8);
            Assert.Contains("attention", attHover);
            await page.Locator("#figure-7").ScrollIntoViewIfNeededAsync();
            await page.Locator($"#{att}-tok-4").HoverAsync();
            Assert.Contains("attends to", await page.Locator($"#{att}-info").TextContentAsync() ?? "");
            await page.Locator("#figure-7").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Screenshots, "attention-hover.png") });

            // neuron text: tokens coloured, value on hover, neuron selector re-colours
            const string neu = "fig-08-neuron-activations";
            var tok = page.Locator($"#{neu}-p0-t2");
            var before = await tok.EvaluateAsync<string>("e => e.style.background");
            await tok.HoverAsync();
            var tip = page.Locator($"#{neu}-tip");
            await tip.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = TestTimeouts.BrowserMs });
            var tipText = await tip.TextContentAsync() ?? "";
            Assert.Contains("L0N10 =", tipText);
            Assert.Contains("Mary", tipText);
            await page.Locator("#figure-8").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Screenshots, "neuron-text-hover.png") });
            await page.Locator($"#{neu}-sel").SelectOptionAsync("1");
            Assert.NotEqual(before, await tok.EvaluateAsync<string>("e => e.style.background"));

            // top-k table
            Assert.Contains("Mary", await page.Locator("#fig-09-top-3-predictions").TextContentAsync() ?? "");

            await page.Mouse.MoveAsync(0, 0);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "report-full.png"), FullPage = true });
            foreach (var i in Enumerable.Range(1, 10))
                await page.Locator($"#figure-{i}").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Screenshots, $"figure-{i:00}.png") });

            Assert.Empty(errors);
            Assert.Empty(remote);
        }
        finally { await browser.CloseAsync(); pw.Dispose(); }
    }

    [ChromiumFact]
    public async Task Standalone_figure_html_works_offline_and_run_index_links()
    {
        var dir = Path.Combine(ArtifactsRoot, "standalone");
        var files = FigureWriter.Write(Samples.HeadsHeatmap(), dir, "heads", FigureFormats.Html | FigureFormats.Data);
        var runs = Path.Combine(ArtifactsRoot, "runs");
        new Report("Run A") { StaticImages = false, Model = "gpt2-small" }.AddFigure(Samples.Bar()).Write(Path.Combine(runs, "a"));
        var runIndex = RunIndex.Write(runs);

        var (pw, browser) = await Launch();
        try
        {
            var (page, errors, remote) = await Open(browser, files.Html!);
            await page.Locator("#fig-heads .main-svg").First.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });
            var label = await HoverPlotCenter(page, "fig-heads", 0.1, 0.1);
            Assert.Contains("head", label);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "standalone-heatmap.png") });
            Assert.Empty(errors);
            Assert.Empty(remote);

            var (ip, ierr, _) = await Open(browser, runIndex);
            await ip.Locator("a[href='a/index.html']").ClickAsync();
            await ip.Locator("#fig-01-name-mover-heads-95-ci .main-svg").First.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });
            Assert.Empty(ierr);
        }
        finally { await browser.CloseAsync(); pw.Dispose(); }
    }
}
