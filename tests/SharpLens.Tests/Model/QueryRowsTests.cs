using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// TransformerBlock.ForwardQueryRows (the last block evaluated only at each sequence's final position, which
/// exact patching uses) gives the full block's resid_post at those rows: ragged prompts, with and without a
/// KV-cached prefix, with and without a caller-supplied Q/K/V projection.
/// </summary>
public class QueryRowsTests
{
    private static readonly ModelConfig Config = new()
    {
        NLayers = 2, DModel = 32, NHeads = 4, DHead = 8, DMlp = 48, DVocab = 40, NCtx = 16, ModelName = "random",
    };

    private static readonly int[][] Prompts = [[39, 5, 7, 9, 11, 13, 15], [39, 6, 8, 10, 12], [39, 21, 22, 23, 24, 25]];

    [Theory]
    [InlineData(0, false, false)]
    [InlineData(0, true, false)]
    [InlineData(2, false, false)]
    [InlineData(3, true, false)]
    [InlineData(2, false, true)]
    public void QueryRowsEqualFullBlockAtFinalPositions(int start, bool unprocessed, bool suppliedQkv)
    {
        var model = RandomWeights.CreateModel(Config, seed: 7, processed: !unprocessed);
        var tokens = new TokenBatch(Prompts.Select(p => (IReadOnlyList<int>)p).ToList(), padId: 0);
        int last = Config.NLayers - 1, batch = tokens.Batch, pos = tokens.Pos, d = Config.DModel, newPos = pos - start;
        var (_, cache) = model.RunWithCache(tokens, [HookNames.ResidPre(last), HookNames.ResidPost(last)]);
        Tensor fullPre = cache[HookNames.ResidPre(last)], fullPost = cache[HookNames.ResidPost(last)];

        // Keys/values of positions [0, start) from a prefix run; the block then sees positions [start, pos).
        KvCache? kv = null;
        if (start > 0)
        {
            kv = new KvCache(Config, batch, pos);
            var prefix = new TokenBatch(Prompts.Select(p => (IReadOnlyList<int>)p[..start]).ToList(), padId: 0);
            model.Run(prefix, new ForwardOptions { KvCache = kv, Logits = LogitsMode.None });
        }
        var residPre = Tensor.Zeros(batch, newPos, d);
        for (int b = 0; b < batch; b++)
            fullPre.Data.AsSpan((b * pos + start) * d, newPos * d).CopyTo(residPre.Data.AsSpan(b * newPos * d));
        var finals = Enumerable.Range(0, batch).Select(b => tokens.FinalPosition(b) - start).ToArray();

        var block = model.Blocks[last];
        float[]? qkv = null;
        if (suppliedQkv)
        {
            var normalized = block.Ln1.Forward(residPre, ForwardContext.None);
            qkv = block.Attn.ProjectQkv(normalized.Data, batch * newPos);
            Kernels.AddBiasRows(qkv, block.Attn.QkvBias);
        }
        var actual = block.ForwardQueryRows(residPre, finals, kv, start, qkv);

        Assert.Equal([batch, 1, d], actual.Shape);
        var expected = new float[batch * d];
        for (int b = 0; b < batch; b++)
            fullPost.Data.AsSpan((b * pos + tokens.FinalPosition(b)) * d, d).CopyTo(expected.AsSpan(b * d));
        TensorAssert.Close(expected, actual.Data, $"query rows from {start}", atol: 1e-5f);
    }
}
