using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Predictions;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.RealModel;

/// <summary>The contraction study's printed numbers (real GPT-2 small, TransformerLens) reproduced in C#.</summary>
[Trait("Category", "RealWeights")]
public class ContractionStudyNumbersTests
{
    private static (string[] Prompts, (int, int)[] Answers) Experiment1()
    {
        var group = RealGpt2.Notebook["groups"]!["re_they"]!;
        var tok = new SharpLens.Tokenization.Gpt2Tokenizer();
        var prompts = group["prompts"]!.AsArray().Select(p => p!.GetValue<string>()).ToArray();
        var answers = group["answers"]!.AsArray().Select(a => (tok.ToSingleToken(a![0]!.GetValue<string>()), tok.ToSingleToken(a[1]!.GetValue<string>()))).ToArray();
        return (prompts, answers);
    }

    // Needs only the bundled tokenizer, so it runs everywhere.
    [Fact]
    public void Experiment1TokensMatch()
    {
        var expected = RealGpt2.Notebook["notebook_printed"]!["exp1_tokens"]!.AsArray().Select(r => r!.AsArray().Select(v => v!.GetValue<int>()).ToArray()).ToArray();
        var (prompts, _) = Experiment1();
        var batch = new SharpLens.Tokenization.Gpt2Tokenizer().ToTokens(prompts);
        for (int b = 0; b < expected.Length; b++) Assert.Equal(expected[b], batch.Sequence(b));
    }

    [RealGpt2Fact]
    public void PerPromptLogitDifferencesMatch()
    {
        var (prompts, answers) = Experiment1();
        var model = RealGpt2.Model;
        var logits = model.Run(model.RequireTokenizer().ToTokens(prompts), new ForwardOptions { Logits = LogitsMode.Final });
        var diffs = LogitDiff.PerPrompt(logits, answers);
        var expected = RealGpt2.Notebook["notebook_printed"]!["exp1_logit_diff_per_prompt"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
        TensorAssert.Close(expected, diffs, "logit diff per prompt", 1e-3f);
    }

    [RealGpt2Fact]
    public void NeuronActivationsMatch()
    {
        var model = RealGpt2.Model;
        var neurons = RealGpt2.Notebook["notebook_printed"]!["neuron_activations"]!.AsObject();
        foreach (var (label, data) in neurons)
        {
            int layer = int.Parse(label[1..label.IndexOf('N')]), neuron = int.Parse(label[(label.IndexOf('N') + 1)..]);
            var tokens = model.RequireTokenizer().ToTokens([data!["text"]!.GetValue<string>()]);
            var (_, cache) = model.RunWithCache(tokens, [HookNames.MlpPost(layer)], LogitsMode.None);
            var post = cache[HookNames.MlpPost(layer)];
            var actual = Enumerable.Range(0, tokens.Pos).Select(p => post[0, p, neuron]).ToArray();
            var expected = data["post_gelu_activation"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            TensorAssert.Close(expected, actual, label, 1e-3f);
        }
    }

    [RealGpt2Fact]
    public void TestPromptMatchesTransformerLens()
    {
        var expected = RealGpt2.Notebook["notebook_printed"]!["test_prompt"]!;
        var model = RealGpt2.Model;
        var tok = model.RequireTokenizer();
        var result = NextTokenPrediction.Run(model, tok.ToTokens(expected["prompt"]!.GetValue<string>()), 10, tok.ToSingleToken(expected["answer"]!.GetValue<string>()));
        Assert.Equal(expected["answer_rank"]!.GetValue<int>(), result.Answer!.Rank);
        Assert.InRange(result.Answer.Logit, expected["answer_logit_centered"]!.GetValue<float>() - 0.01f, expected["answer_logit_centered"]!.GetValue<float>() + 0.01f);
        var top = expected["top10"]!.AsArray();
        for (int i = 0; i < top.Count; i++)
        {
            Assert.Equal(top[i]![0]!.GetValue<string>(), result.TopK[i].Token);
            Assert.InRange(result.TopK[i].Prob * 100, top[i]![2]!.GetValue<float>() - 0.01f, top[i]![2]!.GetValue<float>() + 0.01f);
        }
    }

    [RealGpt2Fact]
    public void DirectLogitAttributionReconstructsMeanAndTopHeads()
    {
        var (prompts, answers) = Experiment1();
        var model = RealGpt2.Model;
        var tokens = model.RequireTokenizer().ToTokens(prompts);
        var (_, cache) = model.RunWithCache(tokens, DirectLogitAttribution.NeededHooks(model.Config.NLayers), LogitsMode.None);
        var dla = DirectLogitAttribution.ForLogitDiff(model, cache, tokens, answers);
        var printed = RealGpt2.Notebook["notebook_printed"]!;
        Assert.InRange(dla.MeasuredLogitDiff.Average(), printed["exp1_logit_diff_mean"]!.GetValue<float>() - 1e-3f, printed["exp1_logit_diff_mean"]!.GetValue<float>() + 1e-3f);
        var top3 = dla.Heads.Values.Data.OrderByDescending(v => v).Take(3).ToArray();
        var expectedTop3 = printed["exp1_top3_head_dla"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
        TensorAssert.Close(expectedTop3, top3, "top-3 head DLA", 1e-3f);
        Assert.Equal(top3[0], dla.Heads[7, 11]);
    }
}
