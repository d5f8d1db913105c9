using SharpLens.Analysis;
using SharpLens.Analysis.Attribution;
using SharpLens.Analysis.Metrics;
using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Model.Backward;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;
using Xunit.Abstractions;

namespace SharpLens.Tests.Analysis.Attribution;

public class AttributionPatchingTests(ITestOutputHelper output)
{
    private static GradientCache ReferenceStyleGradients(HookedTransformer model, TokenBatch tokens, IMetric metric,
        MetricGradient.LogitGradient? logitGradient = null)
    {
        var (normalized, cache) = model.RunWithCache(tokens, logits: LogitsMode.None);
        var rows = HookedTransformer.GatherFinal(normalized, tokens);
        var dFinal = MetricGradient.ForFinalNormalized(model, metric, rows, tokens.Batch, logitGradient);
        return TransformerBackward.FromFinalPositions(model, cache, tokens, dFinal);
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void GradientsMatchReferenceForEveryHook(string fixture)
    {
        var model = Fixtures.Load(fixture, processed: true);
        var tokens = Fixtures.Tokens(fixture);
        var grads = ReferenceStyleGradients(model, tokens.CorruptedBatch, new LogitDiffMetric(tokens.AnswerPairs));
        using var golden = Fixtures.Golden(fixture, processed: true);
        int compared = 0;
        foreach (var name in model.HookPointNames)
        {
            if (name.EndsWith("hook_attn_scores", StringComparison.Ordinal)) continue;
            var expected = golden.ReadTensor("grad." + name);
            TensorAssert.Close(expected, grads[name], $"{fixture} grad.{name}", atol: 1e-4f, rtol: 1e-3f);
            compared++;
        }
        Assert.Equal(model.HookPointNames.Count - model.Config.NLayers, compared);
    }

    [Fact]
    public void GenericLogitGradientPathEqualsAnalyticLogitDiff()
    {
        var model = Fixtures.Load("tiny-b", processed: true);
        var tokens = Fixtures.Tokens("tiny-b");
        var metric = new LogitDiffMetric(tokens.AnswerPairs);
        var a = ReferenceStyleGradients(model, tokens.CorruptedBatch, metric);
        var b = ReferenceStyleGradients(model, tokens.CorruptedBatch, metric, logits => MetricGradient.ForLogits(metric, logits)!);
        using var golden = Fixtures.Golden("tiny-b", processed: true);
        TensorAssert.Close(a["blocks.0.hook_resid_pre"], b["blocks.0.hook_resid_pre"], "generic vs analytic", 1e-5f, 1e-4f);
        TensorAssert.Close(golden.ReadTensor("grad.hook_embed"), b["hook_embed"], "generic path vs reference", 1e-4f, 1e-3f);
    }

    private static readonly ModelConfig TinyRandom = new()
    {
        NLayers = 2, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32, DVocab = 20, NCtx = 8,
    };

    public static TheoryData<string> FiniteDifferenceMetrics() => ["logit_diff", "log_prob", "prob", "kl"];

    /// <summary>Directional derivatives at every hook against central differences, on a random unprocessed model
    /// (LayerNorm weights present) with a ragged batch.</summary>
    [Theory]
    [MemberData(nameof(FiniteDifferenceMetrics))]
    public void GradientsMatchFiniteDifferencesOnRandomModel(string metricName)
    {
        var model = RandomModel.Create(TinyRandom, seed: 7);
        var tokens = new TokenBatch([[19, 3, 5, 7, 2], [19, 4, 5, 1], [19, 8, 9, 10, 11]], padId: 0);
        IMetric metric = metricName switch
        {
            "logit_diff" => new LogitDiffMetric([(1, 2), (3, 4), (5, 6)]),
            "log_prob" => new LogProbMetric([1, 3, 5]),
            "prob" => new ProbabilityMetric([1, 3, 5]),
            _ => new KlMetric(FinalLogits(model, new TokenBatch([[19, 6, 6, 7, 2], [19, 4, 2, 1], [19, 8, 3, 10, 11]], padId: 0))),
        };
        var grads = ReferenceStyleGradients(model, tokens, metric);
        var rng = new Random(11);
        double worst = 0;
        foreach (var name in model.HookPointNames)
        {
            if (name.EndsWith("hook_attn_scores", StringComparison.Ordinal)) continue;
            var g = grads[name];
            var dir = new float[g.Length];
            double norm = 0;
            for (int i = 0; i < dir.Length; i++) { dir[i] = (float)(rng.NextDouble() * 2 - 1); norm += dir[i] * dir[i]; }
            for (int i = 0; i < dir.Length; i++) dir[i] /= (float)Math.Sqrt(norm);
            double analytic = 0;
            for (int i = 0; i < dir.Length; i++) analytic += g.Data[i] * (double)dir[i];
            const float eps = 1e-2f;
            double Perturbed(float e) => Mean(metric.PerPrompt(FinalLogits(model, tokens, new Hook(name, (act, _) =>
            {
                for (int i = 0; i < act.Length; i++) act.Data[i] += e * dir[i];
                return null;
            }))));
            double numeric = (Perturbed(eps) - Perturbed(-eps)) / (2 * eps);
            double err = Math.Abs(numeric - analytic);
            worst = Math.Max(worst, err);
            Assert.True(err <= 2e-3 + 2e-2 * Math.Abs(numeric), $"{metricName} {name}: analytic {analytic}, finite difference {numeric}");
        }
        output.WriteLine($"{metricName}: worst |analytic - finite difference| = {worst:g3}");
    }

    private static Tensor FinalLogits(HookedTransformer model, TokenBatch tokens, params Hook[] hooks) =>
        model.Run(tokens, new ForwardOptions { Hooks = hooks, Logits = LogitsMode.Final });

    private static double Mean(float[] x) => x.Select(v => (double)v).Average();

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void AttributionEqualsReferenceLinearEstimate(string fixture)
    {
        var model = Fixtures.Load(fixture, processed: true);
        var tokens = Fixtures.Tokens(fixture);
        var engine = new AttributionPatcher(model, new PatchingInputs(tokens.CleanBatch, tokens.CorruptedBatch, new LogitDiffMetric(tokens.AnswerPairs)));
        Grid Change(string name, IReadOnlyList<int>? layers = null, int? position = null) => engine.Change(engine.Sweep(name, layers, position));
        using var golden = Fixtures.Golden(fixture, processed: true);
        Assert.Equal(golden.ReadTensor("metric.corrupted").Data[0], engine.CorruptedBaseline.Average(), 1e-4f);
        Assert.Equal(golden.ReadTensor("metric.clean").Data[0], engine.CleanBaseline.Average(), 1e-4f);

        // resid_pre at layer 1, position 2 (the corrupted position): Σ_b Σ_d (clean - corrupted)·grad.
        int layer = 1, pos = 2;
        string hook = HookNames.ResidPre(layer);
        var c = golden.ReadTensor(hook); var k = golden.ReadTensor("corrupted." + hook); var g = golden.ReadTensor("grad." + hook);
        int B = c.Dim(0), P = c.Dim(1), d = c.Dim(2);
        double sum = 0;
        var perPrompt = new double[B];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < d; i++)
            {
                int at = (b * P + pos) * d + i;
                double term = (c.Data[at] - k.Data[at]) * (double)g.Data[at];
                sum += term; perPrompt[b] += B * term;
            }
        var grid = Change("resid_pre");
        Assert.Equal(sum, grid[layer, pos], 1e-4);
        for (int b = 0; b < B; b++) Assert.Equal(perPrompt[b], grid.PerPrompt!.Data[(b * grid.Rows.Count + layer) * P + pos], 1e-4);
        Assert.Equal(["0", "1", .. Enumerable.Range(2, model.Config.NLayers - 2).Select(i => i.ToString())], grid.Rows);
        Assert.Equal("pos_0", grid.Cols[0]);   // the patching engines' labels when no token strings are given

        // Every head (z, all positions) against the reference gradient.
        var heads = Change("head_out");
        for (int l = 0; l < model.Config.NLayers; l++)
        {
            var cz = golden.ReadTensor(HookNames.Z(l)); var kz = golden.ReadTensor("corrupted." + HookNames.Z(l));
            var gz = golden.ReadTensor("grad." + HookNames.Z(l));
            int H = cz.Dim(2), dh = cz.Dim(3);
            for (int h = 0; h < H; h++)
            {
                double s = 0;
                for (int b = 0; b < B; b++)
                    for (int p = 0; p < P; p++)
                        for (int e = 0; e < dh; e++)
                        {
                            int at = ((b * P + p) * H + h) * dh + e;
                            s += (cz.Data[at] - kz.Data[at]) * (double)gz.Data[at];
                        }
                Assert.Equal(s, heads[l, h], 1e-4);
            }
        }

        // Neurons summed over positions equal the layer's neuron grid, and before position 2 nothing changes.
        var n0 = Change("neurons", [0]);
        var all = Change("neurons");
        var byPos = Enumerable.Range(0, P).Select(p => Change("neurons", [0], position: p)).ToArray();
        for (int n = 0; n < model.Config.DMlp; n += 7)
        {
            double s = 0;
            for (int p = 0; p < P; p++) s += byPos[p][0, n];
            Assert.Equal(s, n0[0, n], 1e-5);
            Assert.Equal(n0[0, n], all[0, n], 1e-6);
            Assert.Equal(0f, byPos[1][0, n]);
        }
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void AgreementWithReferenceExactPatching(string fixture)
    {
        var model = Fixtures.Load(fixture, processed: true);
        var tokens = Fixtures.Tokens(fixture);
        var engine = new AttributionPatcher(model, new PatchingInputs(tokens.CleanBatch, tokens.CorruptedBatch, new LogitDiffMetric(tokens.AnswerPairs)));
        using var golden = Fixtures.Golden(fixture, processed: true);
        int L = model.Config.NLayers;
        var plan = engine.Plan(["resid_pre", "attn_out", "mlp_out", "head_out", "head_v", "head_pattern", "neurons"], [0, L - 1]).ToDictionary(s => s.Key, s => s.Sweep);
        foreach (var (exactKey, attrKey) in new[] { ("resid_pre", "resid_pre"), ("attn_out", "attn_out"), ("mlp_out", "mlp_out"),
                     ("head_z", "head_out"), ("head_v", "head_v"), ("head_pattern", "head_pattern"), ("neurons_L0", "neurons_L0"),
                     ($"neurons_L{L - 1}", $"neurons_L{L - 1}") })
        {
            var attr = engine.Change(plan[attrKey]);
            var exact = golden.ReadTensor("patch." + exactKey);
            var exactGrid = AttributionAgreement.ExactChange(new Grid(exact.Reshape(attr.Rows.Count, attr.Cols.Count), attr.Rows, attr.Cols),
                engine.CorruptedBaseline.Average(), engine.CorruptedBaseline);
            var report = AttributionAgreement.Compare(attr, exactGrid, top: 3);
            var w = report.Largest[0];
            output.WriteLine($"{fixture} {attrKey}: pearson {report.Pearson:F3} spearman {report.Spearman:F3} mean|diff| {report.MeanAbsDiff:F4} worst ({w.Row},{w.Col}) attr {w.Attribution:F4} exact {w.Exact:F4}");
            Assert.Equal(attr.Values.Length, report.Cells);
            if (exactKey == "resid_pre")
            {
                // Positions before the first corrupted one (2): clean == corrupted, both exactly zero change.
                for (int l = 0; l < L; l++)
                    for (int p = 0; p < 2; p++)
                    {
                        Assert.Equal(0f, attr[l, p]);
                        Assert.Equal(0f, exactGrid[l, p], 1e-5f);
                    }
                Assert.True(report.Spearman > 0.5, $"{attrKey} spearman {report.Spearman}");
            }
        }
    }

    [Fact]
    public void AgreementReportOnKnownPair()
    {
        string[] rows = ["0", "1"], cols = ["a", "b", "c"];
        var attr = new Grid(new Tensor([1f, 2f, 3f, 4f, 5f, 6f], 2, 3), rows, cols);
        var exact = new Grid(new Tensor([1f, 2f, 3f, 4f, 5f, 9f], 2, 3), rows, cols);
        var report = AttributionAgreement.Compare(attr, exact, top: 2);
        // Hand computed: x = 1..6, y = 1..5,9: means 3.5 and 4; Sxy = 25, Sxx = 17.5, Syy = 40.
        Assert.Equal(25 / Math.Sqrt(17.5 * 40), report.Pearson, 1e-9);
        Assert.Equal(1.0, report.Spearman, 1e-12);
        Assert.Equal(6, report.Cells);
        Assert.Equal(new Disagreement("1", "c", 6f, 9f, -3f), report.Largest[0]);
        Assert.Equal(2, report.Largest.Count);
        Assert.Equal(0.5, report.MeanAbsDiff, 1e-9);

        // Ties take average ranks: x = (1,1,2), y = (1,2,3) -> ranks (1.5,1.5,3) vs (1,2,3).
        var t = AttributionAgreement.Compare(new Grid(new Tensor([1f, 1f, 2f], 1, 3), ["0"], cols), new Grid(new Tensor([1f, 2f, 3f], 1, 3), ["0"], cols));
        Assert.Equal(Math.Sqrt(3) / 2, t.Spearman, 1e-9);

        Assert.Throws<InvalidInputException>(() => AttributionAgreement.Compare(attr, new Grid(exact.Values, rows, ["a", "b", "x"])));
        var change = AttributionAgreement.ExactChange(exact, 1f);
        Assert.Equal(8f, change[1, 2]);
    }

    [Fact]
    public void UnknownMetricNeedsLogitGradient()
    {
        var model = RandomModel.Create(TinyRandom, seed: 3);
        var tokens = new TokenBatch([[1, 2, 3], [4, 5, 6]], padId: 0);
        var metric = new DelegateMetric(l => Enumerable.Range(0, l.Dim(0)).Select(b => l.Data[b * l.Dim(1)]).ToArray());
        var inputs = new PatchingInputs(tokens, tokens, metric);
        Assert.Throws<InvalidInputException>(() => new AttributionPatcher(model, inputs));
        // With the gradient given: d mean(logit[0]) / d logits = e_0 / batch. Identical prompts: all estimates 0.
        var engine = new AttributionPatcher(model, inputs, logitGradient:
            l => { var g = Tensor.Zeros(l.Shape); for (int b = 0; b < l.Dim(0); b++) g.Data[b * l.Dim(1)] = 1f / l.Dim(0); return g; });
        Assert.All(engine.Change(engine.Sweep("resid_pre")).Values.Data, v => Assert.Equal(0f, v));
    }
}
