using SharpLens.Families.Gpt2;
using System.Text.Json.Nodes;
using SharpLens.Loading;
using SharpLens.Tests.Support;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Tests.Loading;

/// <summary>Loading accounts for every tensor of the checkpoint: nothing unknown or unused loads silently.</summary>
public class TensorAccountingTests
{
    /// <summary>A copy of the 3-layer tiny-b model with config.json edited and tensors added.</summary>
    private static string Variant(TempDir dir, Action<JsonObject>? editConfig = null, params (string Name, Tensor Tensor)[] extra)
    {
        string source = Fixtures.Folder("tiny-b");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        using var checkpoint = SafetensorsCheckpoint.Open(source);
        var tensors = checkpoint.Names.Select(n => (n, checkpoint.ReadTensor(n))).Concat(extra).ToList();
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        return dir.Path;
    }

    [Fact]
    public void ConfigWithFewerLayersThanTheWeightsIsAnErrorNamingTheUnusedTensors()
    {
        using var dir = new TempDir();
        string folder = Variant(dir, c => c["n_layer"] = 2);
        var ex = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.Load(folder));
        Assert.Contains("12 tensor(s)", ex.Message);
        Assert.Contains("transformer.h.2.attn.c_attn.bias", ex.Message);
        Assert.Contains("n_layer", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void UnknownTensorIsAnErrorNamingIt()
    {
        using var dir = new TempDir();
        string folder = Variant(dir, null, ("score.weight", Tensor.Zeros(2, 48)));
        var ex = Assert.Throws<InvalidCheckpointException>(() => ModelLoader.Load(folder));
        Assert.Contains("(score.weight)", ex.Message);
    }

    [Fact]
    public void CausalMaskBuffersAreIgnoredOnPurpose()
    {
        using var dir = new TempDir();
        string folder = Variant(dir, null,
            ("transformer.h.0.attn.bias", Tensor.Zeros(1, 1, 24, 24)), ("h.1.attn.masked_bias", new Tensor([-1e4f], 1)));
        var model = ModelLoader.Load(folder);
        Assert.Equal(3, model.Config.NLayers);
        Assert.Matches(Gpt2WeightMap.HarmlessExtras(), "transformer.h.11.attn.masked_bias");
        Assert.DoesNotMatch(Gpt2WeightMap.HarmlessExtras(), "transformer.h.0.attn.c_attn.bias");
    }
}
