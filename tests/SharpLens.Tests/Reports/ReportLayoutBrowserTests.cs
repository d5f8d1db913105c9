using SharpLens.Tests.Support;
using Microsoft.Playwright;
using SharpLens.Reports;

namespace SharpLens.Tests.Reports;

/// <summary>
/// What a person sees in Chromium: every figure lies inside its card (wide figures are fitted, not clipped) at a
/// typical and a narrow viewport and after the window is resized, and Plotly's toolbar never covers a figure's title
/// or a panel title.
/// </summary>
public class ReportLayoutBrowserTests
{
    /// <summary>The study's "logit difference from each layer" bars: embed, pos_embed and 24 attention/MLP outputs.</summary>
    internal static BarFigure LayerBars()
    {
        var components = new[] { "embed", "pos_embed" }.Concat(Enumerable.Range(0, 12).SelectMany(l => new[] { $"{l}_attn_out", $"{l}_mlp_out" })).ToArray();
        return new BarFigure(components, components.Select((_, i) => Math.Sin(i * 0.9) * 2).ToArray())
        { Title = "contractions_re: Logit Difference From Each Layer", XTitle = "component", YTitle = "logit difference" };
    }

    /// <summary>The study's residual-stream patching of an 8-token prompt: a narrow heatmap (layer x position) with a long title.</summary>
    internal static HeatmapFigure NarrowHeatmap() => new(Samples.Matrix(12, 8, 1.5, 5), Samples.Layers, Samples.PositionLabels.Take(8).ToArray())
    { Title = "contractions_re: Logit Difference From Patched Residual Stream", XTitle = "position", YTitle = "layer" };

    internal static Report WideReport()
    {
        var report = Samples.FullReport();
        report.StaticImages = false;
        report.AddSection("Wide and narrow figures");
        report.AddFigure(LayerBars(), "26 components: the last bars must stay visible.");
        report.AddFigure(NarrowHeatmap(), "A narrow heatmap with a long title.");
        report.AddFigure(new HeatmapFigure(Samples.Matrix(12, 40, 1.0, 2), Samples.Layers, Enumerable.Range(0, 40).Select(i => $"tok_{i}").ToArray())
            { Title = "A wide heatmap of forty positions", XTitle = "position", YTitle = "layer" });
        return report;
    }

    // Every element that draws a figure (the card's children, Plotly's plot divs and their SVG layers) must lie inside the
    // figure card; returns a description of each one that does not.
    const string OutsideCards = """
        () => {
          const bad = [];
          document.querySelectorAll('figure').forEach(fig => {
            const card = fig.getBoundingClientRect();
            fig.querySelectorAll(':scope > *, .sl-plot, .sl-plot .main-svg').forEach(el => {
              const r = el.getBoundingClientRect();
              if (r.width === 0 && r.height === 0) return;
              if (r.left < card.left - 1 || r.right > card.right + 1 || r.top < card.top - 1 || r.bottom > card.bottom + 1)
                bad.push(`${fig.id} ${el.tagName.toLowerCase()}.${el.getAttribute('class')}: [${Math.round(r.left)}, ${Math.round(r.right)}] outside card [${Math.round(card.left)}, ${Math.round(card.right)}]`);
            });
          });
          return bad;
        }
        """;

    // Plotly's toolbar (mode bar) against the figure's title and every annotation (the panel titles of small multiples).
    const string ToolbarOverTitles = """
        () => {
          const bad = [];
          const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
          document.querySelectorAll('.js-plotly-plot').forEach(plot => {
            const bar = plot.querySelector('.modebar');
            if (!bar) { bad.push(`${plot.id}: no toolbar`); return; }
            const b = bar.getBoundingClientRect();
            if (b.width === 0) { bad.push(`${plot.id}: toolbar has no size`); return; }
            plot.querySelectorAll('.gtitle, .annotation').forEach(t => {
              const r = t.getBoundingClientRect();
              if (r.width > 0 && hit(b, r)) bad.push(`${plot.id}: toolbar [${Math.round(b.left)}..${Math.round(b.right)} x ${Math.round(b.top)}..${Math.round(b.bottom)}] covers "${t.textContent}" [${Math.round(r.left)}..${Math.round(r.right)} x ${Math.round(r.top)}..${Math.round(r.bottom)}]`);
            });
          });
          return bad;
        }
        """;

    static async Task<string[]> Violations(IPage page, string check) => await page.EvaluateAsync<string[]>(check);

    /// <summary>Waits (bounded) until both checks find nothing (layouts settle after a resize), then asserts both.</summary>
    static async Task AssertLayout(IPage page, string when)
    {
        try { await page.WaitForFunctionAsync($"() => ({OutsideCards})().length + ({ToolbarOverTitles})().length === 0", null, new PageWaitForFunctionOptions { Timeout = TestTimeouts.BrowserMs }); }
        catch (TimeoutException) { }
        var outside = await Violations(page, OutsideCards);
        var covered = await Violations(page, ToolbarOverTitles);
        Assert.True(outside.Length + covered.Length == 0,
            $"{when}:\nfigures outside their card:\n{string.Join("\n", outside)}\ntoolbar over a title:\n{string.Join("\n", covered)}");
    }

    static async Task WaitForPlots(IPage page)
    {
        var svgs = page.Locator(".sl-plot");
        int n = await svgs.CountAsync();
        for (int i = 0; i < n; i++)
            await svgs.Nth(i).Locator(".main-svg").First.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });
    }

    [ChromiumFact]
    public async Task Every_figure_fits_its_card_and_the_toolbar_clears_every_title()
    {
        var dir = Path.Combine(BrowserTests.ArtifactsRoot, "report-layout");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        var index = WideReport().Write(dir);

        var (pw, browser) = await BrowserTests.Launch();
        try
        {
            foreach (var (width, height) in new[] { (1280, 800), (600, 900) })
            {
                var (page, errors, remote) = await BrowserTests.Open(browser, index, width, height);
                await WaitForPlots(page);
                Assert.True(await page.Locator(".js-plotly-plot").CountAsync() >= 10);
                await AssertLayout(page, $"at {width}x{height}");
                await page.Locator("#figure-11").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(BrowserTests.Screenshots, $"layer-bars-{width}.png") });
                await page.Locator("#figure-12").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(BrowserTests.Screenshots, $"narrow-heatmap-{width}.png") });
                if (width == 1280)
                {
                    // The same page made narrow, then wide again: figures follow the window.
                    await page.SetViewportSizeAsync(600, 900);
                    await AssertLayout(page, "after narrowing the window to 600 px");
                    await page.SetViewportSizeAsync(1280, 800);
                    await AssertLayout(page, "after widening the window again");
                }
                Assert.Empty(errors);
                Assert.Empty(remote);
                await page.CloseAsync();
            }
        }
        finally { await browser.CloseAsync(); pw.Dispose(); }
    }
}
