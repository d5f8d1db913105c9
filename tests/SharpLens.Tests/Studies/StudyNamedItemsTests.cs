using System.Text.Json.Nodes;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Studies;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Studies;

/// <summary>A study's named neurons and test prompts are computed on every run; a NaN fails the run instead of being saved.</summary>
public sealed class StudyNamedItemsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sharplens-named-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private const string Json = """
    {
      "name": "named",
      "groups": {
        "a": {
          "experiment": 1,
          "prompts": [[119, 5, 6, 7, 8], [119, 9, 10, 11, 12]],
          "answers": [[30, 31], [31, 30]],
          "analyses": ["model_check", "head_attribution"],
          "neurons": ["L1N3", "L2N190"],
          "test_prompts": [{ "prompt": [119, 5, 6], "answer": 30 }],
          "top_k": 4
        }
      }
    }
    """;

    [Fact]
    public void NamedNeuronsAndTestPromptsAreComputedEveryRun()
    {
        var model = Fixtures.Load("tiny-b", processed: true);
        var study = StudyFile.ParseJson(Json);
        new StudyRunner(model, study, new StudyRunOptions { OutDir = _dir, WriteReport = false }).Run();
        var results = StudyResults.Load(Path.Combine(_dir, "results.json"));

        var neurons = (JsonArray)results.Get("a", StudyNamedNeurons.Path)!["neurons"]!;
        Assert.Equal(["L1N3", "L2N190"], neurons.Select(n => n!["name"]!.ToString()));
        var (_, cache) = model.RunWithCache(SharpLens.Tokenization.TokenBatch.Single([119, 9, 10, 11, 12]), [HookNames.MlpPost(2)], LogitsMode.None);
        var post = cache[HookNames.MlpPost(2)];
        var acts = (JsonArray)neurons[1]!["activations"]![1]!;
        Assert.Equal(5, acts.Count);
        for (int p = 0; p < 5; p++) Assert.Equal(post[0, p, 190], acts[p]!.GetValue<float>(), 5);

        var test = (JsonArray)results.Get("a", StudyTestPrompts.Path)!;
        var entry = test.Single()!;
        Assert.Equal(4, ((JsonArray)entry["top_k"]!).Count);
        var expected = SharpLens.Analysis.Predictions.NextTokenPrediction.Run(model, [119, 5, 6], 4, 30);
        Assert.Equal(expected.Answer!.Rank, entry["answer"]!["rank"]!.GetValue<int>());
        Assert.Equal(expected.TopK[0].TokenId, entry["top_k"]![0]!["token_id"]!.GetValue<int>());

        // The run's own reference (figures and printed numbers) verifies, with the printed numbers compared.
        var checks = StudyVerify.Compare(results, StudyVerify.ToReference(results));
        Assert.All(checks, c => Assert.False(c.Failed(), $"{c.Group} {c.Title}: {c.Status}; {c.Detail}"));
        foreach (var key in new[] { "exp1_tokens", "exp1_str_tokens_prompt0", "exp1_logit_diff_per_prompt", "exp1_top3_head_dla", "neuron_activations" })
            Assert.Contains(checks, c => c.Title.Contains($"(printed: {key})") && c.Status == "ok");
        Assert.Equal(4, checks.Count(c => c.Title.StartsWith("test_prompt") && c.Status == "ok"));
    }

    [Fact]
    public void NeuronOutsideTheModelIsAOneLineErrorBeforeAnyRun()
    {
        var study = StudyFile.ParseJson(Json.Replace("L2N190", "L2N192"));
        var e = Assert.Throws<InvalidInputException>(() => new StudyRunner(Fixtures.Load("tiny-b", processed: true), study, new StudyRunOptions { OutDir = _dir }));
        Assert.Contains("neuron L2N192 does not exist: the model has 3 layers of 192 neurons (L0N0 to L2N191)", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "results.json")));
    }

    [Fact]
    public void NaNInTheModelFailsTheRunAndIsNeverSaved()
    {
        var tiny = Fixtures.Load("tiny-b", processed: true);
        var weights = tiny.Weights.Clone();
        weights.Blocks[0].W_in!.Data.AsSpan().Fill(float.NaN); // before the model packs its weights
        var model = new HookedTransformer(tiny.Config, weights, weightsProcessed: true);
        var e = Assert.Throws<SharpLensException>(() =>
            new StudyRunner(model, StudyFile.ParseJson(Json), new StudyRunOptions { OutDir = _dir, WriteReport = false }).Run());
        Assert.Contains("a: clean logit difference per prompt: value 0 is NaN", e.Message);
        var saved = File.Exists(Path.Combine(_dir, "results.json")) ? StudyResults.Load(Path.Combine(_dir, "results.json")) : null;
        Assert.False(saved?.Has("a", "model_check") ?? false);
    }
}
