using System.Numerics;
using SharpLens.Analysis.Weights;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Analysis.Weights;

/// <summary>
/// Head circuits, copying scores, composition scores and bigram paths against the independent PyTorch reference
/// (tests/reference/make_weights_fixtures.py: float64, torch.linalg for SVD and eigenvalues), on both tiny models.
/// </summary>
public class WeightViewsReferenceTests
{
    public static TheoryData<string> Models() => new("tiny-a", "tiny-b");

    private static (HookedTransformer Model, SafetensorsFile Views) Load(string name) =>
        (Fixtures.Load(name, processed: true), SafetensorsFile.Open(Path.Combine(Fixtures.Folder(name), "weights_views.safetensors")));

    private static void Close(double expected, double actual, string what, double tol = 1e-4) =>
        Assert.True(Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)), $"{what}: {actual}, expected {expected}");

    [Theory, MemberData(nameof(Models))]
    public void OvAndQkSingularValuesAndNormsMatchTorch(string name)
    {
        var (model, views) = Load(name);
        using var _ = views;
        Tensor ovS = views.ReadTensor("ov.S"), qkS = views.ReadTensor("qk.S"), ovN = views.ReadTensor("ov.norm"), qkN = views.ReadTensor("qk.norm");
        for (int l = 0; l < model.Config.NLayers; l++)
            for (int h = 0; h < model.Config.NHeads; h++)
            {
                var ov = HeadCircuits.OV(model, l, h);
                var qk = HeadCircuits.QK(model, l, h);
                for (int i = 0; i < model.Config.DHead; i++)
                {
                    Close(ovS[l, h, i], ov.S[i], $"{name} OV {l}.{h} S[{i}]");
                    Close(qkS[l, h, i], qk.S[i], $"{name} QK {l}.{h} S[{i}]");
                }
                Close(ovN[l, h], ov.Norm(), $"{name} OV {l}.{h} norm");
                Close(qkN[l, h], qk.Norm(), $"{name} QK {l}.{h} norm");
            }
    }

    [Theory, MemberData(nameof(Models))]
    public void OvEigenvaluesMatchTorchAsAMultiset(string name)
    {
        var (model, views) = Load(name);
        using var _ = views;
        var eig = views.ReadTensor("ov.eig");
        int dh = model.Config.DHead;
        for (int l = 0; l < model.Config.NLayers; l++)
            for (int h = 0; h < model.Config.NHeads; h++)
            {
                var mine = HeadCircuits.OV(model, l, h).Eigenvalues.ToList();
                Assert.Equal(dh, mine.Count);
                for (int i = 0; i < dh; i++)
                {
                    var expected = new Complex(eig[l, h, i, 0], eig[l, h, i, 1]);
                    var nearest = mine.MinBy(e => (e - expected).Magnitude);
                    Assert.True((nearest - expected).Magnitude <= 1e-4 * Math.Max(1, expected.Magnitude),
                        $"{name} OV {l}.{h}: eigenvalue {expected} has no match (nearest {nearest})");
                    mine.Remove(nearest);
                }
            }
    }

    [Theory, MemberData(nameof(Models))]
    public void FullOvRowsAndCopyingScoresMatchTorch(string name)
    {
        var (model, views) = Load(name);
        using var _ = views;
        Tensor full = views.ReadTensor("full_ov"), copying = views.ReadTensor("full_ov.copying");
        int vocab = model.Config.DVocab;
        var sources = new[] { 0, 5, vocab - 1 };
        for (int l = 0; l < model.Config.NLayers; l++)
            for (int h = 0; h < model.Config.NHeads; h++)
            {
                // The reference uses all d_vocab eigenvalues of the materialised circuit; SharpLens the d_head of B·A.
                var score = CopyingScore.Of(model, l, h);
                Close(copying[l, h], score.Score, $"{name} copying {l}.{h}");
                var readouts = OvReadout.For(model, l, h, sources, k: 5);
                foreach (var r in readouts)
                {
                    for (int t = 0; t < vocab; t++) Close(full[l, h, r.SourceId, t], r.Logits[t], $"{name} full OV {l}.{h} [{r.SourceId},{t}]");
                    var expectedTop = Enumerable.Range(0, vocab).OrderByDescending(t => full[l, h, r.SourceId, t]).First();
                    Assert.Equal(expectedTop, r.Top[0].TokenId);
                }
                var factored = HeadCircuits.FullOV(model, l, h);
                Assert.Equal((vocab, vocab), factored.Shape);
                Close(full[l, h, 7, 11], factored.GetCorner(12)[7, 11], $"{name} factored full OV {l}.{h} [7,11]");
            }
    }

    [Theory, MemberData(nameof(Models))]
    public void CompositionScoresMatchTorchForEveryKindAndPair(string name)
    {
        var (model, views) = Load(name);
        using var _ = views;
        int layers = model.Config.NLayers, heads = model.Config.NHeads;
        foreach (var kind in new[] { CompositionKind.Q, CompositionKind.K, CompositionKind.V })
        {
            var expected = views.ReadTensor($"comp.{kind}");
            var all = CompositionScores.All(model, kind);
            for (int l1 = 0; l1 < layers; l1++)
                for (int h1 = 0; h1 < heads; h1++)
                    for (int l2 = 0; l2 < layers; l2++)
                        for (int h2 = 0; h2 < heads; h2++)
                        {
                            float e = expected[l1, h1, l2, h2];
                            Close(e, all[(l1, h1), (l2, h2)], $"{name} {kind}-composition {l1}.{h1} -> {l2}.{h2}");
                            if (l2 > l1)
                                Close(e, CompositionScores.Between(model, (l1, h1), (l2, h2), kind), $"{name} {kind} pair {l1}.{h1} -> {l2}.{h2}");
                        }
        }
    }

    [Theory, MemberData(nameof(Models))]
    public void BigramPathsMatchTorch(string name)
    {
        var (model, views) = Load(name);
        using var _ = views;
        int vocab = model.Config.DVocab;
        var cases = new (string Key, BigramSource Via, bool Ln)[]
        {
            ("bigram.embed.ln", BigramSource.Embedding, true),
            ("bigram.embed.raw", BigramSource.Embedding, false),
            ("bigram.effective.ln", BigramSource.EffectiveEmbedding, true),
        };
        foreach (var (key, via, ln) in cases)
        {
            var expected = views.ReadTensor(key);
            foreach (int s in new[] { 1, 17, vocab - 2 })
            {
                var logits = BigramPath.Logits(model, s, via, ln);
                for (int t = 0; t < vocab; t++) Close(expected[s, t], logits[t], $"{name} {key} [{s},{t}]");
            }
            var pref = BigramPath.Compare(model, [3, 4], correct: 10, wrong: 20, via, ln);
            Close(expected[3, 10] - expected[3, 20], pref[0].LogitDiff, $"{name} {key} logit diff of source 3");
            Close(expected[4, 10] - expected[4, 20], pref[1].LogitDiff, $"{name} {key} logit diff of source 4");
        }
    }

    [Fact]
    public void BadHeadsAndTokensAreOneLineInputErrors()
    {
        var model = Fixtures.Load("tiny-a", processed: true);
        var e = Assert.Throws<InvalidInputException>(() => HeadCircuits.OV(model, 2, 0));
        Assert.Contains("head L2H0 does not exist: tiny-a has 2 layers of", e.Message);
        Assert.Throws<InvalidInputException>(() => HeadCircuits.QK(model, 0, 4));
        Assert.Throws<InvalidInputException>(() => OvReadout.For(model, 0, 0, [96]));
        Assert.Throws<InvalidInputException>(() => BigramPath.Compare(model, [1], 96, 2));
    }
}
