using System.Text.Json.Nodes;
using Microsoft.Playwright;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Neurons;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Server;
using SharpLens.Tests.Neurons;
using SharpLens.Tests.Reports;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Server;

/// <summary>The explorer over a neuron index built from the served model and a small corpus.</summary>
public sealed class ExplorerWithIndexFixture : ExplorerFixture
{
    public string IndexDir { get; } = Path.Combine(Path.GetTempPath(), "sharplens-explorer-index-" + Guid.NewGuid().ToString("N")[..8]);
    public string Db => Path.Combine(IndexDir, "neurons.db");

    protected override string? NeuronsDb(HookedTransformer model)
    {
        var corpus = Corpus.Open(TinyIndexModel.WriteCorpus(Path.Combine(IndexDir, "corpus")));
        NeuronIndexBuilder.Build(model, corpus, Db, new IndexOptions { Context = 16, TopK = 3, BatchWindows = 4, DirectEffectTokens = 4 });
        return Db;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(IndexDir)) Directory.Delete(IndexDir, recursive: true);
    }
}

/// <summary>Clicking a neuron with an index loaded shows (and links) its Neuroscope-style page with the index's numbers;
/// an index of another model is refused at startup. Serial: the browser test needs the cores.</summary>
[Collection(SerialTests.Name)]
public class ExplorerNeuronIndexTests(ExplorerWithIndexFixture fx) : IClassFixture<ExplorerWithIndexFixture>
{
    [Fact]
    public async Task Neuron_view_embeds_and_links_the_index_page()
    {
        var (status, json) = await fx.Post("/api/neuron", new { prompt = "We're helping our friend", layer = 1, neuron = 7 });
        Assert.Equal(200, status);
        Assert.Equal("/neurons/L1N7", json["page"]!.ToString());
        using var index = NeuronIndex.Open(fx.Db);
        var record = index.GetNeuron(new NeuronId(1, 7));
        var top = record.TopExamples[0];
        string embedded = json["figures"]!.AsArray().Single(f => f!["id"]!.ToString() == "neuron-page")!["html"]!.ToString();
        Assert.Contains("Neuron L1N7", embedded);
        string page = await fx.Http.GetStringAsync("/neurons/L1N7");
        Assert.Contains("Neuron L1N7", page);
        Assert.Contains("/assets/plotly.min.js", page);
        Assert.Contains(System.Text.Json.JsonSerializer.Serialize(top.Tokens[top.Position]), page);   // the top example's token, in the page's figure data
        var info = JsonNode.Parse(await fx.Http.GetStringAsync("/api/model"))!;
        Assert.True(info["neuron_index"]!.GetValue<bool>());

        using var missing = await fx.Http.GetAsync("/neurons/L9N1");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        using var bad = await fx.Http.GetAsync("/neurons/banana");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, bad.StatusCode);
    }

    [Fact]
    public async Task An_index_of_another_model_is_refused_before_serving()
    {
        var other = RandomWeights.CreateModel(RandomCheckpoint.Tiny, seed: 99, tokenizer: new SharpLens.Tokenization.Gpt2Tokenizer());
        var error = await Assert.ThrowsAsync<InvalidInputException>(() => ExplorerServer.StartAsync(other, new ExplorerOptions { Port = 0, NeuronsDb = fx.Db }));
        Assert.Contains("was built for model", error.Message);
        var missing = await Assert.ThrowsAsync<InvalidInputException>(() => ExplorerServer.StartAsync(fx.Model, new ExplorerOptions { Port = 0, NeuronsDb = "/no/such/neurons.db" }));
        Assert.Contains("does not exist", missing.Message);
    }

    [Fact]
    public void Serve_refuses_an_index_of_another_model_with_exit_code_2()
    {
        string dir = CliRunner.TempDir();
        string other = RandomCheckpoint.Write(Path.Combine(dir, "other"), seed: 99);
        // The served model differs from the index's: refused after loading, before listening (port 0: nothing to collide with).
        var r = CliRunner.Run("serve", "--model", other, "--neurons-db", fx.Db, "--port", "0");
        CliRunner.AssertOneLineError(r, "was built for model");
        Assert.Equal(2, r.ExitCode);
        r = CliRunner.Run("serve", "--model", other, "--neurons-db", Path.Combine(dir, "missing.db"), "--port", "0");
        CliRunner.AssertOneLineError(r, "does not exist");
        Assert.Equal(2, r.ExitCode);
        string notIndex = Path.Combine(dir, "not-an-index.db");
        File.WriteAllText(notIndex, "hello");
        r = CliRunner.Run("serve", "--model", other, "--neurons-db", notIndex, "--port", "0");
        CliRunner.AssertOneLineError(r, "not a SharpLens neuron index");
        Assert.Equal(2, r.ExitCode);
    }

    [ChromiumFact]
    public async Task Clicking_a_neuron_opens_its_neuroscope_page_in_the_browser()
    {
        await using var s = await ExplorerBrowser.Open(fx);
        var page = s.Page;
        await page.FillAsync("#prompts", "We're helping our friend when they\nWe are helping our friend when they");
        await page.FillAsync("#answers", "\"'re\", \" are\"\n\" are\", \"'re\"");
        await page.CheckAsync("#swap");
        await page.ClickAsync("#run");
        await page.WaitForSelectorAsync("#dla-neurons .main-svg", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = TestTimeouts.BrowserMs });

        // Click the first of the top neurons (a point of the direct-attribution line) with the mouse.
        string name = await page.EvaluateAsync<string>("() => String(document.getElementById('dla-neurons').data[0].x[0])");
        var id = NeuronId.Parse(name);
        await page.Locator("#dla-neurons").ScrollIntoViewIfNeededAsync();
        var box = (await page.Locator("#dla-neurons .scatterlayer .point").First.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + box.Width / 2 - 4, box.Y + box.Height / 2 - 4);
        await page.Mouse.ClickAsync(box.X + box.Width / 2, box.Y + box.Height / 2);
        await ExplorerBrowser.WaitText(page, "#neuron-title", name);

        // The embedded page shows the index's numbers: the best window's max activation and its shaded tokens.
        using var index = NeuronIndex.Open(fx.Db);
        var record = index.GetNeuron(id);
        var top = record.TopExamples[0];
        await ExplorerBrowser.WaitText(page, "#neuron-figures h1", $"Neuron {name}");
        string table = await page.Locator("#neuron-figures table").First.TextContentAsync() ?? "";
        Assert.Contains(SharpLens.Reports.Fmt.Num(top.Activation), table);
        string tokenTitle = await page.Locator($"#examples-{name}-p0-t{top.Position}").GetAttributeAsync("title") ?? "";
        Assert.EndsWith(": " + top.Activations[top.Position].ToString("F4", System.Globalization.CultureInfo.InvariantCulture), tokenTitle);

        // The link opens the stand-alone page, served by the explorer, with the same example.
        var link = page.Locator("#neuron-page-link");
        Assert.True(await link.IsVisibleAsync());
        Assert.Equal($"/neurons/{name}", await link.GetAttributeAsync("href"));
        var popup = await page.RunAndWaitForPopupAsync(() => link.ClickAsync());
        var popupErrors = new List<string>();
        popup.PageError += (_, e) => { lock (popupErrors) popupErrors.Add(e); };
        await popup.WaitForLoadStateAsync(LoadState.Load);
        Assert.Equal($"Neuron {name}", await popup.Locator("h1").First.TextContentAsync());
        await popup.WaitForFunctionAsync($"() => document.getElementById('examples-{name}-p0-t{top.Position}')");
        Assert.EndsWith(": " + top.Activations[top.Position].ToString("F4", System.Globalization.CultureInfo.InvariantCulture),
            await popup.Locator($"#examples-{name}-p0-t{top.Position}").GetAttributeAsync("title") ?? "");
        Assert.True(await popup.Locator($"#histogram-{name} .main-svg").CountAsync() > 0);
        Assert.Empty(popupErrors);
        Assert.Empty(s.Errors);
        Assert.Empty(s.Foreign);
    }
}
