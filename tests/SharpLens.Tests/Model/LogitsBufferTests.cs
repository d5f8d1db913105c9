using SharpLens.Model;
using SharpLens.Model.Components;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Model;

/// <summary>
/// Logits written into memory the caller reuses (<see cref="ForwardOptions.LogitsBuffer"/>, or arrays given back to a
/// shared <see cref="TensorPool"/>) are the logits a plain call returns, for every way a pass produces logits; and a
/// buffer that cannot hold them is refused before anything is written.
/// </summary>
public class LogitsBufferTests
{
    // d_vocab 53: no activation of the pass has the logits' length, so the pool test can tell the logits array apart.
    private static readonly ModelConfig Config = new()
    {
        NLayers = 2, DModel = 32, NHeads = 4, DHead = 8, DMlp = 48, DVocab = 53, NCtx = 16, ModelName = "random",
    };

    private static readonly TokenBatch Tokens = new([[1, 5, 7, 9, 11], [2, 6, 8]], padId: 0);

    [Theory]
    [InlineData(LogitsMode.All, false)]
    [InlineData(LogitsMode.Final, false)]
    [InlineData(LogitsMode.All, true)]
    [InlineData(LogitsMode.Final, true)]
    public void BufferIsFilledWithThePlainLogitsAndReturned(LogitsMode mode, bool someColumns)
    {
        var model = RandomWeights.CreateModel(Config, seed: 3);
        var columns = someColumns ? new UnembedColumns(model.UnembedLayer, [4, 52, 4]) : null;
        var plain = model.Run(Tokens, new ForwardOptions { Logits = mode, UnembedColumns = columns });
        var buffer = Tensor.FromArray(Enumerable.Repeat(float.NaN, plain.Length).ToArray(), plain.Shape);
        for (int call = 0; call < 2; call++)
        {
            var result = model.Run(Tokens, new ForwardOptions { Logits = mode, UnembedColumns = columns, LogitsBuffer = buffer });
            Assert.Same(buffer, result);
            Assert.Equal(plain.Data, buffer.Data);
        }
    }

    [Fact]
    public void QueryRowsWriteIntoTheBuffer()
    {
        var model = RandomWeights.CreateModel(Config, seed: 4);
        var options = new ForwardOptions { QueryRows = [2, 1] };
        var plain = model.Run(Tokens, options);
        var buffer = Tensor.Zeros(plain.Shape);
        Assert.Same(buffer, model.Run(Tokens, options with { LogitsBuffer = buffer }));
        Assert.Equal(plain.Data, buffer.Data);
    }

    [Fact]
    public void LogitsGivenBackToASharedPool_AreReusedByTheNextCall()
    {
        var model = RandomWeights.CreateModel(Config, seed: 5);
        var pool = new TensorPool();
        var first = model.Run(Tokens, new ForwardOptions { Pool = pool });
        var expected = (float[])first.Data.Clone();
        pool.Give(first.Data);
        var second = model.Run(Tokens, new ForwardOptions { Pool = pool });
        Assert.Same(first.Data, second.Data);
        Assert.Equal(expected, second.Data);
    }

    [Fact]
    public void WrongShapeOrNoLogits_IsRefusedWithoutWriting()
    {
        var model = RandomWeights.CreateModel(Config, seed: 6);
        var wrong = Tensor.Zeros(Tokens.Batch, Tokens.Pos, Config.DVocab + 1);
        var e = Assert.Throws<ShapeMismatchException>(() => model.Run(Tokens, new ForwardOptions { LogitsBuffer = wrong }));
        Assert.Contains("LogitsBuffer", e.Message);
        Assert.All(wrong.Data, x => Assert.Equal(0f, x));
        var buffer = Tensor.Zeros(Tokens.Batch, Tokens.Pos, Config.DVocab);
        Assert.Throws<InvalidInputException>(() => model.Run(Tokens, new ForwardOptions { LogitsBuffer = buffer, Logits = LogitsMode.None }));
        Assert.Throws<InvalidInputException>(() => model.Run(Tokens, new ForwardOptions { LogitsBuffer = buffer, StopAtLayer = 1 }));
    }
}
