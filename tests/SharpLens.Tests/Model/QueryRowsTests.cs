using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// The forward options a caller that reads little composes (start at a layer from a given residual, a KV prefix,
/// query rows, a few unembedding columns, a supplied Q/K/V projection) give the full forward's final-position
/// logits: ragged prompts, folded and unfolded LayerNorms, every start block including straight to ln_final.
/// </summary>
public class QueryRowsTests
{
    private static readonly ModelConfig Config = new()
    {
        NLayers = 2, DModel = 32, NHeads = 4, DHead = 8, DMlp = 48, DVocab = 40, NCtx = 16, ModelName = "random",
    };

    private static readonly int[][] Prompts = [[39, 5, 7, 9, 11, 13, 15], [39, 6, 8, 10, 12], [39, 21, 22, 23, 24, 25]];
    private static readonly int[] Columns = [3, 17, 3, 39];

    private static TokenBatch Batch(Func<int[], int[]> cut) => new(Prompts.Select(p => (IReadOnlyList<int>)cut(p)).ToList(), padId: 0);

    [Theory]
    [InlineData(0, 0, false, false)]
    [InlineData(0, 2, true, false)]
    [InlineData(1, 0, false, false)]
    [InlineData(1, 3, true, false)]
    [InlineData(1, 4, false, true)]
    [InlineData(1, 2, true, true)]
    [InlineData(2, 2, false, false)]
    public void ComposedOptionsEqualTheFullForwardAtFinalPositions(int startLayer, int prefix, bool unprocessed, bool suppliedQkv)
    {
        var model = RandomWeights.CreateModel(Config, seed: 7, processed: !unprocessed);
        var tokens = Batch(p => p);
        int batch = tokens.Batch, pos = tokens.Pos, d = Config.DModel, newPos = pos - prefix;
        var (logits, cache) = model.RunWithCache(tokens, [HookNames.ResidPre(1), HookNames.ResidPost(1)]);

        // Keys/values of positions [0, prefix) from a prefix run; the call then sees positions [prefix, pos).
        KvCache? kv = null;
        if (prefix > 0)
        {
            kv = new KvCache(Config, batch, pos);
            model.Run(Batch(p => p[..prefix]), new ForwardOptions { KvCache = kv, Logits = LogitsMode.None });
        }
        Tensor? resid = null;
        if (startLayer > 0)
        {
            var full = cache[startLayer < Config.NLayers ? HookNames.ResidPre(startLayer) : HookNames.ResidPost(startLayer - 1)];
            resid = Tensor.Zeros(batch, newPos, d);
            for (int b = 0; b < batch; b++)
                full.Data.AsSpan((b * pos + prefix) * d, newPos * d).CopyTo(resid.Data.AsSpan(b * newPos * d));
        }
        float[]? qkv = null;
        if (suppliedQkv)
        {
            var block = model.Blocks[startLayer];
            qkv = block.Attn.Qkv.Project(block.Ln1.Forward(resid!, ForwardContext.None).Data, batch * newPos);
        }
        var finals = Enumerable.Range(0, batch).Select(b => tokens.FinalPosition(b) - prefix).ToArray();
        var actual = model.Run(Batch(p => p[prefix..]), new ForwardOptions
        {
            StartAtLayer = startLayer, ResidualInput = resid, KvCache = kv, StartQkv = qkv, QueryRows = finals,
            UnembedColumns = new UnembedColumns(model.UnembedLayer, Columns),
        });

        Assert.Equal([batch, Columns.Length], actual.Shape);
        var expected = new float[batch * Columns.Length];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < Columns.Length; j++)
                expected[b * Columns.Length + j] = logits.Data[(b * pos + tokens.FinalPosition(b)) * Config.DVocab + Columns[j]];
        TensorAssert.Close(expected, actual.Data, $"start {startLayer}, prefix {prefix}", atol: 1e-4f);
    }

    /// <summary>A hook in the last block sees the full [batch, pos, ...] activation (the block runs in full) and its
    /// edit reaches the query-row logits exactly as in the full forward.</summary>
    [Fact]
    public void AHookInTheLastBlockRunsItInFull()
    {
        var model = RandomWeights.CreateModel(Config, seed: 3);
        var tokens = Batch(p => p);
        string hook = HookNames.Z(Config.NLayers - 1);
        int[]? seen = null;
        Hook Edit() => new(hook, (act, _) => { seen = act.Shape; act.Data[5] += 1f; return null; });
        var expected = model.Run(tokens, new ForwardOptions { Hooks = [Edit()], Logits = LogitsMode.Final });
        var actual = model.Run(tokens, new ForwardOptions { Hooks = [Edit()], QueryRows = tokens.FinalPositions() });
        Assert.Equal([tokens.Batch, tokens.Pos, Config.NHeads, Config.DHead], seen!);
        TensorAssert.Close(expected, actual, "hooked last block", atol: 1e-5f);
        var normalized = model.Run(tokens, new ForwardOptions { QueryRows = tokens.FinalPositions(), Logits = LogitsMode.None });
        Assert.Equal([tokens.Batch, 1, Config.DModel], normalized.Shape);
    }

    /// <summary>LogitsMode.Final runs the last block at the final positions only: the same logits as the full forward's
    /// final rows, ragged prompts and a KV-cached continuation included.</summary>
    [Fact]
    public void FinalLogitsEqualTheFullForwardsFinalRows()
    {
        var model = RandomWeights.CreateModel(Config, seed: 11);
        var tokens = Batch(p => p);
        var all = model.Run(tokens, new ForwardOptions());
        var final = model.Run(tokens, new ForwardOptions { Logits = LogitsMode.Final });
        int v = Config.DVocab;
        var expected = new float[tokens.Batch * v];
        for (int b = 0; b < tokens.Batch; b++)
            all.Data.AsSpan((b * tokens.Pos + tokens.FinalPosition(b)) * v, v).CopyTo(expected.AsSpan(b * v));
        TensorAssert.Close(expected, final.Data, "final logits", atol: 1e-5f);

        var kv = new KvCache(Config, 1, 8);
        model.Run(TokenBatch.Single([39, 5, 7]), new ForwardOptions { KvCache = kv, Logits = LogitsMode.Final });
        var next = model.Run(TokenBatch.Single([9, 11]), new ForwardOptions { KvCache = kv, Logits = LogitsMode.Final });
        var whole = model.Run(TokenBatch.Single([39, 5, 7, 9, 11]), new ForwardOptions { Logits = LogitsMode.All });
        TensorAssert.Close(whole.Data.AsSpan(4 * v, v).ToArray(), next.Data, "cached continuation", atol: 1e-5f);
        Assert.Equal(5, kv.Length);
    }

    [Fact]
    public void BadQueryRowsAreClearErrors()
    {
        var model = RandomWeights.CreateModel(Config, seed: 3);
        var tokens = Batch(p => p);
        var wrongCount = Assert.Throws<InvalidInputException>(() => model.Run(tokens, new ForwardOptions { QueryRows = [1, 2] }));
        Assert.Contains("one per sequence", wrongCount.Message);
        var outside = Assert.Throws<InvalidInputException>(() => model.Run(tokens, new ForwardOptions { QueryRows = [1, 2, tokens.Pos] }));
        Assert.Contains("outside", outside.Message);
        var early = Assert.Throws<InvalidInputException>(() => model.Run(tokens, new ForwardOptions { QueryRows = [1, 2, 3], StopAtLayer = 1 }));
        Assert.Contains("StopAtLayer", early.Message);
        Assert.Throws<InvalidInputException>(() => model.Run(tokens, new ForwardOptions { StartAtLayer = Config.NLayers + 1 }));
    }
}
