using System.Text.Json.Nodes;
using Microsoft.Playwright;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Reports;

/// <summary>
/// <c>--neurons-db</c>: <c>view neurons</c> and <c>study run</c> write the page of every neuron they name into their
/// folder and link to it; in Chromium the links open the pages, whose text is shaded by activation with the value on
/// hover, without console errors. A neuron index of another model is refused before any work.
/// </summary>
public class NeuronLinksBrowserTests
{
    const string Prompt = "We're helping our friend while they";

    /// <summary>On a neuron page: the examples' tokens are shaded (several distinct colours) and hovering one shows its value.</summary>
    static async Task AssertNeuronPage(IPage page, string neuron)
    {
        // A generous bound: the page parses the 4 MB Plotly bundle before its body, slow on a loaded machine.
        await page.WaitForURLAsync($"**/{neuron}.html", new PageWaitForURLOptions { Timeout = TestTimeouts.BrowserMs, WaitUntil = WaitUntilState.Load });
        await page.Locator("#neuron").WaitForAsync(new LocatorWaitForOptions { Timeout = TestTimeouts.BrowserMs });
        Assert.Contains(neuron, await page.Locator("#neuron").TextContentAsync() ?? "");
        var tokens = page.Locator(".sl-ntok");
        int n = await tokens.CountAsync();
        Assert.True(n > 4, $"{neuron}: only {n} example tokens");
        var colours = new HashSet<string>();
        for (int i = 0; i < Math.Min(n, 40); i++) colours.Add(await tokens.Nth(i).EvaluateAsync<string>("e => e.style.background"));
        Assert.All(colours, c => Assert.StartsWith("rgb", c));
        Assert.True(colours.Count >= 3, $"{neuron}: tokens are not shaded by activation ({string.Join(", ", colours)})");
        await tokens.Nth(2).HoverAsync();
        var tip = page.Locator(".sl-tip").First;
        await tip.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = TestTimeouts.BrowserMs });
        Assert.Matches($@"{neuron} = -?\d+\.\d{{4}}", await tip.TextContentAsync() ?? "");
    }

    [ChromiumFact]
    public async Task View_neurons_and_the_study_link_every_named_neuron_to_its_page()
    {
        var (model, _, _, db) = RunIndexKindsTests.Inputs.Value;
        string dir = CliRunner.TempDir(), view = Path.Combine(dir, "view"), studyOut = Path.Combine(dir, "study"), study = Path.Combine(dir, "study.json");
        File.WriteAllText(study, RunIndexKindsTests.StudyJson);
        var r = CliRunner.Run("view", "neurons", "--model", model, "--prompt", Prompt, "--neurons", "L1N5,L0N3", "--neurons-db", db, "--out", view);
        Assert.True(r.ExitCode == 0, r.Stderr);
        r = CliRunner.Run("study", "run", study, "--model", model, "--neurons-db", db, "--out", studyOut);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(studyOut, "results.json")))!;
        var topNeurons = results["groups"]!["a"]!["neuron_patching"]!["top"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(2, topNeurons.Count);

        var (pw, browser) = await BrowserTests.Launch();
        try
        {
            // view neurons: the list of neurons links to both pages; following one opens a working page.
            var (page, errors, remote) = await BrowserTests.Open(browser, Path.Combine(view, "neurons.html"));
            foreach (var neuron in new[] { "L1N5", "L0N3" })
                Assert.Equal(1, await page.Locator($".sl-neuron-links a[href='{neuron}.html']").CountAsync());
            await page.Locator(".sl-neuron-links a[href='L1N5.html']").ClickAsync();
            await AssertNeuronPage(page, "L1N5");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserTests.Screenshots, "neuron-page-from-view.png"), FullPage = true });
            Assert.Empty(errors);
            Assert.Empty(remote);
            await page.CloseAsync();

            // The study: its named neuron and its top patched neurons link to their pages in neurons/.
            (page, errors, remote) = await BrowserTests.Open(browser, Path.Combine(studyOut, "index.html"));
            foreach (var neuron in topNeurons.Append("L1N5").Distinct())
            {
                Assert.True(await page.Locator($"a[href='neurons/{neuron}.html']").CountAsync() >= 1, $"the study report does not link {neuron}");
                Assert.True(File.Exists(Path.Combine(studyOut, "neurons", neuron + ".html")), $"no page for {neuron}");
            }
            await page.Locator("a[href='neurons/L1N5.html']").First.ClickAsync();
            await AssertNeuronPage(page, "L1N5");
            await page.GoBackAsync();
            await page.Locator($"table a[href='neurons/{topNeurons[0]}.html']").First.ClickAsync();
            await AssertNeuronPage(page, topNeurons[0]);
            Assert.Empty(errors);
            Assert.Empty(remote);
        }
        finally { await browser.CloseAsync(); pw.Dispose(); }
    }

    [Fact]
    public void A_neuron_index_of_another_model_is_refused_before_any_work()
    {
        var (_, other, _, db) = RunIndexKindsTests.Inputs.Value;
        string dir = CliRunner.TempDir(), view = Path.Combine(dir, "view"), studyOut = Path.Combine(dir, "study"), study = Path.Combine(dir, "study.json");
        File.WriteAllText(study, RunIndexKindsTests.StudyJson);

        var r = CliRunner.Run("view", "neurons", "--model", other, "--prompt", Prompt, "--neurons", "L1N5", "--neurons-db", db, "--out", view);
        CliRunner.AssertOneLineError(r, "was built for model");
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(Path.Combine(view, "neurons.html")));
        r = CliRunner.Run("study", "run", study, "--model", other, "--neurons-db", db, "--out", studyOut);
        CliRunner.AssertOneLineError(r, "was built for model");
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(Path.Combine(studyOut, "results.json")));

        // A neuron the index does not hold, and a missing index, are refused too.
        CliRunner.AssertOneLineError(CliRunner.Run("view", "neurons", "--model", other, "--prompt", Prompt, "--neurons", "L5N1", "--neurons-db", db, "--out", view), "layer 5 is not in neuron index");
        CliRunner.AssertOneLineError(CliRunner.Run("view", "neurons", "--model", other, "--prompt", Prompt, "--neurons", "L1N1", "--neurons-db", Path.Combine(dir, "nope.db"), "--out", view), "does not exist");
        Assert.False(File.Exists(Path.Combine(view, "neurons.html")));
    }
}
