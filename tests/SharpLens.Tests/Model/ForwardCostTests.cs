using SharpLens.Model;

namespace SharpLens.Tests.Model;

/// <summary>
/// <see cref="ForwardCost"/> counts what a pass must do from the model's own weights: every block's weight matrices and
/// W_U (biases, LayerNorm weights and the embedding tables not), the causal attention's triangle and the logit rows.
/// Expected values are written out from the config's sizes, independently of how the weights are enumerated.
/// </summary>
public class ForwardCostTests
{
    private static readonly ModelConfig Config = new()
    {
        NLayers = 3, DModel = 16, NHeads = 2, DHead = 8, DMlp = 40, DVocab = 37, NCtx = 12, ModelName = "random",
    };

    [Theory]
    [InlineData(1, 1, LogitsMode.All)]
    [InlineData(2, 5, LogitsMode.All)]
    [InlineData(4, 12, LogitsMode.Final)]
    [InlineData(3, 7, LogitsMode.None)]
    public void CountsTheBlocksTheAttentionTriangleAndTheLogitRows(int batch, int pos, LogitsMode logits)
    {
        var model = RandomWeights.CreateModel(Config, seed: 1);
        var cost = ForwardCost.Of(model, batch, pos, logits);

        long perBlock = 4L * 16 * 2 * 8 + 2L * 16 * 40;    // W_Q, W_K, W_V, W_O and W_in, W_out
        long unembed = 16L * 37;
        long logitRows = logits switch { LogitsMode.All => batch * pos, LogitsMode.Final => batch, _ => 0 };
        long keysSeen = pos * (pos + 1L) / 2;               // query q attends to keys 0..q
        double flops = 2.0 * batch * pos * 3 * perBlock + 2.0 * logitRows * unembed + 3 * batch * 2 * 4.0 * 8 * keysSeen;
        Assert.Equal(flops, cost.Flops);
        Assert.Equal((3 * perBlock + (logitRows > 0 ? unembed : 0)) * 4, cost.WeightBytes);
        Assert.Equal(cost.WeightBytes / 2, ForwardCost.Of(model, batch, pos, logits, bytesPerWeight: 2).WeightBytes);
        Assert.Equal(cost.Flops / 1e9, cost.ComputeLimitSeconds(1), 12);
        Assert.Equal(cost.WeightBytes / 2e9, cost.MemoryLimitSeconds(2), 12);
    }
}
