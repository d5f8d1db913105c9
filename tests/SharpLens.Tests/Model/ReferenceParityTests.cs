using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Model;

/// <summary>Every hook activation and the logits against the independent PyTorch reference, raw and processed.</summary>
public class ReferenceParityTests
{
    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var m in Fixtures.Models) { data.Add(m, false); data.Add(m, true); }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryHookAndLogitsMatchReference(string fixture, bool processed)
    {
        var model = Fixtures.Load(fixture, processed);
        var tokens = Fixtures.Tokens(fixture);
        var (logits, cache) = model.RunWithCache(tokens.CleanBatch);
        using var golden = Fixtures.Golden(fixture, processed);
        int compared = 0;
        foreach (var name in model.HookPointNames)
        {
            Assert.True(golden.Contains(name), $"reference lacks {name}");
            TensorAssert.Close(golden.ReadTensor(name), cache[name], $"{fixture} {(processed ? "processed" : "raw")} {name}");
            compared++;
        }
        TensorAssert.Close(golden.ReadTensor("logits"), logits, $"{fixture} logits");
        Assert.Equal(model.HookPointNames.Count, compared);
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-b")]
    public void ProcessedWeightsMatchTransformerLens(string fixture)
    {
        var model = Fixtures.Load(fixture, processed: true);
        using var golden = Fixtures.Golden(fixture, processed: true);
        foreach (var (name, tensor) in model.Weights.Named())
            TensorAssert.Close(golden.ReadTensor("weights." + name), tensor, name, 1e-5f);
    }

    [Theory]
    [MemberData(nameof(RawFixtures))]
    public void RawGoldenHasALossGradientForEveryRawWeightAndTheLossOfItsLogits(string fixture)
    {
        var model = Fixtures.Load(fixture, processed: false);
        using var golden = Fixtures.Golden(fixture, processed: false);
        var weights = model.Weights.Named().ToList();
        foreach (var (name, tensor) in weights)
            Assert.Equal(tensor.Shape, golden.GetShape("param_grad." + name));
        Assert.Equal(weights.Count, golden.Names.Count(n => n.StartsWith("param_grad.", StringComparison.Ordinal)));
        // lm_loss is the mean next-token cross-entropy of the stored clean logits.
        var logits = golden.ReadTensor("logits");
        var clean = Fixtures.Tokens(fixture).Clean;
        int pos = logits.Dim(1), vocab = logits.Dim(2);
        double sum = 0;
        for (int b = 0; b < clean.Length; b++)
            for (int p = 0; p + 1 < pos; p++)
            {
                var row = logits.Data.AsSpan((b * pos + p) * vocab, vocab);
                double max = double.NegativeInfinity, z = 0;
                foreach (float x in row) max = Math.Max(max, x);
                foreach (float x in row) z += Math.Exp(x - max);
                sum += max + Math.Log(z) - row[clean[b][p + 1]];
            }
        Assert.InRange(golden.ReadTensor("lm_loss").Data[0] - sum / (clean.Length * (pos - 1)), -1e-5, 1e-5);
    }

    public static TheoryData<string> RawFixtures() => new(Fixtures.Models);

    [Fact]
    public void ProcessedAndRawAgreeUpToPerPositionConstant()
    {
        var raw = Fixtures.Load("tiny-b", processed: false);
        var processed = Fixtures.Load("tiny-b", processed: true);
        var tokens = Fixtures.Tokens("tiny-b").CleanBatch;
        var a = raw.Forward(tokens);
        var b = processed.Forward(tokens);
        int vocab = a.Dim(2);
        for (int row = 0; row < a.Length / vocab; row++)
        {
            var ra = a.Data.AsSpan(row * vocab, vocab);
            var rb = b.Data.AsSpan(row * vocab, vocab);
            float shift = ra[0] - rb[0];
            for (int i = 0; i < vocab; i++) Assert.InRange(ra[i] - rb[i] - shift, -1e-4f, 1e-4f);
        }
    }

    [Fact]
    public void HookPointListIsPinnedWithEachShape()
    {
        var model = Fixtures.Load("tiny-a", processed: true);
        var names = model.HookPointNames;
        Assert.Equal(2 + 2 * 18 + 2, names.Count);
        (string Name, string Shape)[] firstBlock =
        [
            ("hook_embed", "batch,pos,d_model"), ("hook_pos_embed", "batch,pos,d_model"),
            ("blocks.0.hook_resid_pre", "batch,pos,d_model"), ("blocks.0.ln1.hook_scale", "batch,pos,1"),
            ("blocks.0.ln1.hook_normalized", "batch,pos,d_model"), ("blocks.0.attn.hook_q", "batch,pos,head_index,d_head"),
            ("blocks.0.attn.hook_k", "batch,pos,head_index,d_head"), ("blocks.0.attn.hook_v", "batch,pos,head_index,d_head"),
            ("blocks.0.attn.hook_attn_scores", "batch,head_index,query_pos,key_pos"),
            ("blocks.0.attn.hook_pattern", "batch,head_index,query_pos,key_pos"),
            ("blocks.0.attn.hook_z", "batch,pos,head_index,d_head"), ("blocks.0.attn.hook_result", "batch,pos,head_index,d_model"),
            ("blocks.0.hook_attn_out", "batch,pos,d_model"), ("blocks.0.hook_resid_mid", "batch,pos,d_model"),
            ("blocks.0.ln2.hook_scale", "batch,pos,1"), ("blocks.0.ln2.hook_normalized", "batch,pos,d_model"),
            ("blocks.0.mlp.hook_pre", "batch,pos,d_mlp"), ("blocks.0.mlp.hook_post", "batch,pos,d_mlp"),
            ("blocks.0.hook_mlp_out", "batch,pos,d_model"), ("blocks.0.hook_resid_post", "batch,pos,d_model"),
        ];
        Assert.Equal(firstBlock, names.Take(20).Select(n => (n, string.Join(",", model.HookShape(n)))));
        Assert.Equal([("ln_final.hook_scale", "batch,pos,1"), ("ln_final.hook_normalized", "batch,pos,d_model")],
            names.TakeLast(2).Select(n => (n, string.Join(",", model.HookShape(n)))));
        // The declared shapes are the shapes a forward pass produces, for every hook point.
        var tokens = Fixtures.Tokens("tiny-a").CleanBatch;
        var (_, cache) = model.RunWithCache(tokens);
        foreach (var name in names)
            Assert.Equal(model.HookShape(name, tokens.Batch, tokens.Pos), cache[name].Shape);
        Assert.Throws<InvalidInputException>(() => model.HookShape("blocks.0.hook_nothing"));
    }
}
