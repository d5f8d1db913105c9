using System.Diagnostics;
using Microsoft.Playwright;
using SharpLens.Server;
using SharpLens.Tests.Reports;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Server;

/// <summary>
/// The explorer as a new user meets it: the form opens with the study's example and says how it reads answers (quoted
/// or not), a reports folder that cannot be written is refused at start-up rather than at the first Export, and a
/// pasted text far over the context is refused without being tokenized.
/// </summary>
[Collection(SerialTests.Name)]
public class ExplorerFirstContactTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    [Fact]
    public async Task The_model_info_carries_the_studys_example()
    {
        var info = System.Text.Json.Nodes.JsonNode.Parse(await fx.Http.GetStringAsync("/api/model"))!;
        Assert.Equal(ExplorerOptions.ContractionsExample().ToJsonString(), info["example"]!.ToJsonString());
    }

    [Fact]
    public async Task A_text_longer_than_any_prompt_that_fits_is_refused_without_tokenizing_it()
    {
        int most = fx.Model.Config.NCtx * fx.Model.RequireTokenizer().MaxTokenChars;
        string pasted = string.Concat(Enumerable.Repeat("a", most + 1));   // one giant word: the slowest text to tokenize
        var clock = Stopwatch.StartNew();
        var (status, json) = await fx.Post("/api/predict", new { prompt = pasted });
        Assert.Equal(400, status);
        Assert.Contains($"the prompt is {most + 1:N0} characters, more than the model's context of {fx.Model.Config.NCtx} tokens can hold", json["error"]!.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"refusing took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("We're helping our friend when they")]
    [InlineData("rawdownloadcloneembedreportprint ---------------------------------------------------------------- !!!!!!!!")]
    [InlineData("emoji \U0001F600\U0001F680 and CJK \u6F22\u5B57 and accents \u00E9\u00E8 \u0915\u093F")]
    [InlineData("                                                                                             spaces")]
    public void No_text_has_fewer_tokens_than_its_length_over_the_longest_token(string text)
    {
        var tok = new Gpt2Tokenizer();
        int tokens = tok.ToTokens(text, prependBos: false).Length;
        Assert.True(text.Length <= (long)tokens * tok.MaxTokenChars, $"{text.Length} characters in {tokens} tokens, longest token {tok.MaxTokenChars}");
        Assert.InRange(tok.MaxTokenChars, 8, 256);
    }

    [Fact]
    public async Task A_reports_folder_that_cannot_be_written_is_refused_at_start_up()
    {
        string file = Path.Combine(CliRunner.TempDir(), "a-file");
        File.WriteAllText(file, "x");
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => ExplorerServer.StartAsync(fx.Model, new ExplorerOptions { Port = 0, ReportsDir = Path.Combine(file, "reports") }));
        Assert.Contains($"--reports {Path.Combine(file, "reports")} cannot be written: {file} is a file", e.Message);
    }

    [ChromiumFact]
    public async Task The_form_opens_with_the_example_and_reads_answers_as_users_type_them()
    {
        await using var s = await ExplorerBrowser.Open(fx);
        var page = s.Page;
        Assert.Equal("We're helping our friend when they\nWe are helping our friend when they", await page.InputValueAsync("#prompts"));
        Assert.Equal("\"'re\", \" are\"\n\" are\", \"'re\"", await page.InputValueAsync("#answers"));
        Assert.True(await page.IsCheckedAsync("#swap"));
        Assert.Contains("read as: ['re] vs [\u00b7are]; [\u00b7are] vs ['re]", await page.Locator("#answers-read").TextContentAsync() ?? "");

        // Unquoted, split at the comma with the space kept: the same pairs, so the same analysis.
        await page.FillAsync("#answers", "'re, are\n are,'re");
        Assert.Contains("read as: ['re] vs [\u00b7are]; [\u00b7are] vs ['re]", await page.Locator("#answers-read").TextContentAsync() ?? "");
        await page.ClickAsync("#run");
        await page.WaitForSelectorAsync("#dla-heads .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 60000 });
        Assert.True(await page.Locator("#error").IsHiddenAsync(), await page.Locator("#error").TextContentAsync() ?? "");

        // A line that is neither form says how to write it.
        await page.FillAsync("#answers", "'re are");
        Assert.Contains("answers line 1 ('re are) must be correct,wrong with one comma", await page.Locator("#answers-read").TextContentAsync() ?? "");
        Assert.Empty(s.Errors);
        Assert.Empty(s.Foreign);
    }
}
