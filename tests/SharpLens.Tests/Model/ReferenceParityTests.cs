using SharpLens.Model;
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
    public void HookPointListIsPinned()
    {
        var names = Fixtures.Load("tiny-a", processed: true).HookPointNames;
        Assert.Equal(2 + 2 * 18 + 2, names.Count);
        Assert.Equal(["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre", "blocks.0.ln1.hook_scale",
            "blocks.0.ln1.hook_normalized", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
            "blocks.0.attn.hook_attn_scores", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.attn.hook_result",
            "blocks.0.hook_attn_out", "blocks.0.hook_resid_mid", "blocks.0.ln2.hook_scale", "blocks.0.ln2.hook_normalized",
            "blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post"], names.Take(20));
        Assert.Equal(["ln_final.hook_scale", "ln_final.hook_normalized"], names.TakeLast(2));
    }
}
