using SharpLens.Loading;
using SharpLens.Model;

namespace SharpLens.Tests.Loading;

/// <summary>A checkpoint written by <see cref="Gpt2CheckpointWriter"/> loads back as the same raw weights, tensor by
/// tensor (the loader's map and the writer's are inverses); processed weights are refused.</summary>
public class Gpt2CheckpointWriterTests
{
    private static readonly ModelConfig Config = new()
    {
        NLayers = 2, DModel = 12, NHeads = 3, DHead = 4, DMlp = 20, DVocab = 50257, NCtx = 9, ModelName = "random",
    };

    [Fact]
    public void WrittenFolderLoadsBackAsTheSameWeights()
    {
        using var dir = new TempDir();
        var weights = RandomWeights.Create(Config, seed: 4);
        Gpt2CheckpointWriter.Write(dir.Path, Config, weights);
        var (config, loaded) = ModelLoader.LoadRawWeights(dir.Path);
        Assert.Equal((Config.NLayers, Config.DModel, Config.NHeads, Config.DHead, Config.DMlp, Config.DVocab, Config.NCtx),
            (config.NLayers, config.DModel, config.NHeads, config.DHead, config.DMlp, config.DVocab, config.NCtx));
        var expected = weights.Named().ToDictionary(p => p.Name, p => p.Tensor);
        var actual = loaded.Named().ToDictionary(p => p.Name, p => p.Tensor);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        // Random weights tie W_U to W_E (and b_U is zero) as GPT-2 does, so every tensor, W_U included, comes back.
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(tensor.Shape, actual[name].Shape);
            Assert.True(tensor.Data.SequenceEqual(actual[name].Data), $"{name} differs after the round trip");
        }
    }

    [Fact]
    public void ProcessedWeightsAreRefused()
    {
        using var dir = new TempDir();
        var processed = RandomWeights.CreateModel(Config, seed: 4).Weights;
        Assert.Throws<ArgumentException>(() => Gpt2CheckpointWriter.Write(dir.Path, Config, processed));
        Assert.False(File.Exists(Path.Combine(dir.Path, "model.safetensors")));
    }
}
