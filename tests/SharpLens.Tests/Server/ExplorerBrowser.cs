using SharpLens.Tests.Support;
using Microsoft.Playwright;
using SharpLens.Tests.Reports;

namespace SharpLens.Tests.Server;

/// <summary>The explorer's page in headless Chromium for the browser tests: console errors and any request that would
/// leave the server are recorded; helpers click heatmap cells and wait for text.</summary>
internal static class ExplorerBrowser
{
    public sealed record Session(IPlaywright Playwright, IBrowser Browser, IPage Page, List<string> Errors, List<string> Foreign) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() { await Browser.CloseAsync(); Playwright.Dispose(); }
    }

    public static async Task<Session> Open(ExplorerFixture fx, string pathAndQuery = "")
    {
        var (pw, browser) = await BrowserTests.Launch();
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        page.SetDefaultTimeout(TestTimeouts.BrowserMs);
        var errors = new List<string>(); var foreign = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") lock (errors) errors.Add(m.Text); };
        page.PageError += (_, e) => { lock (errors) errors.Add(e); };
        string origin = fx.Server.Address.GetLeftPart(UriPartial.Authority);
        await page.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith(origin, StringComparison.Ordinal) || route.Request.Url.StartsWith("data:", StringComparison.Ordinal)) await route.ContinueAsync();
            else { lock (foreign) foreign.Add(route.Request.Url); await route.AbortAsync(); }
        });
        await page.GotoAsync(new Uri(fx.Server.Address, pathAndQuery).ToString());
        await page.WaitForSelectorAsync("body[data-ready='1']", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });
        return new Session(pw, browser, page, errors, foreign);
    }

    public static Task<double[][]> Z(IPage page, string id) => page.EvaluateAsync<double[][]>($"() => document.getElementById('{id}').data[0].z");

    /// <summary>Clicks the centre of heatmap cell (row, col) with the mouse.</summary>
    public static async Task ClickCell(IPage page, string id, int row, int col)
    {
        await page.Locator($"#{id}").ScrollIntoViewIfNeededAsync();
        var xy = await page.EvaluateAsync<double[]>("([id, row, col]) => { const gd = document.getElementById(id), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();"
            + " return [r.left + xa._offset + xa.l2p(col), r.top + ya._offset + ya.l2p(row)]; }", new object[] { id, row, col });
        await page.Mouse.MoveAsync((float)xy[0] - 5, (float)xy[1] - 5);
        await page.Mouse.MoveAsync((float)xy[0], (float)xy[1], new MouseMoveOptions { Steps = 3 });
        await page.Mouse.ClickAsync((float)xy[0], (float)xy[1]);
    }

    public static async Task WaitText(IPage page, string selector, string text, int timeoutMs = TestTimeouts.BrowserMs) =>
        await page.WaitForFunctionAsync("([s, t]) => { const e = document.querySelector(s); return e && e.textContent.includes(t); }",
            new object[] { selector, text }, new PageWaitForFunctionOptions { Timeout = timeoutMs });
}
