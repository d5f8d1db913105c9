using System.Text;
using SharpLens.Loading;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Tests.Loading;

public class SafetensorsTests
{
    private static Tensor Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)(rng.NextDouble() * 4 - 2);
        return t;
    }

    [Theory]
    [InlineData("F32", 0f)]
    [InlineData("F16", 2e-3f)]
    [InlineData("BF16", 1.6e-2f)]
    public void RoundTrip(string dtype, float tol)
    {
        using var dir = new TempDir();
        var a = Random(1, 3, 5);
        var b = Random(2, 7);
        var scalar = new Tensor([42f]);
        var empty = Tensor.Zeros(0, 4);
        string path = dir.File("x.safetensors");
        SafetensorsWriter.Write(path, [("transformer.h.0.attn.c_attn.weight", a), ("b", b), ("s", scalar), ("e", empty)],
            new Dictionary<string, string> { ["format"] = "pt" }, dtype);
        Assert.False(File.Exists(path + ".tmp"));

        using var f = SafetensorsFile.Open(path);
        Assert.Equal(["transformer.h.0.attn.c_attn.weight", "b", "s", "e"], f.Names);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.True(f.Contains("transformer.h.0.attn.c_attn.weight"));
        Assert.False(f.Contains("h.0.attn.c_attn.weight"));
        Assert.Equal(dtype, f.GetDtype("b"));
        Assert.Equal([3, 5], f.GetShape("transformer.h.0.attn.c_attn.weight"));
        Assert.Empty(f.GetShape("s"));
        var ra = f.ReadTensor("transformer.h.0.attn.c_attn.weight");
        Assert.Equal([3, 5], ra.Shape);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a.Data[i] - ra.Data[i]) <= tol * Math.Max(1, Math.Abs(a.Data[i])), $"{dtype} {a.Data[i]} vs {ra.Data[i]}");
        Assert.Equal(42f, f.ReadTensor("s").Data[0]);
        Assert.Equal([0, 4], f.ReadTensor("e").Shape);
        var ex = Assert.Throws<InvalidCheckpointException>(() => f.ReadTensor("missing"));
        Assert.Contains("missing", ex.Message);
    }

    [Fact]
    public void Bf16AndF16ExactValues()
    {
        using var dir = new TempDir();
        float[] vals = [0f, 1f, -2.5f, 256f, float.PositiveInfinity, 0.15625f, -0f];
        var t = new Tensor(vals, vals.Length);
        foreach (var dt in new[] { "F16", "BF16" })
        {
            string p = dir.File(dt + ".safetensors");
            SafetensorsWriter.Write(p, [("t", t)], dtype: dt);
            using var f = SafetensorsFile.Open(p);
            var r = f.ReadTensor("t");
            Assert.Equal(vals, r.Data);
        }
    }

    [Fact]
    public void UnsupportedDtypeNamesTensorAndFile()
    {
        using var dir = new TempDir();
        string p = dir.File("i8.safetensors");
        WriteRaw(p, """{"q":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}}""", new byte[4]);
        using var f = SafetensorsFile.Open(p);
        Assert.Equal("I8", f.GetDtype("q"));
        var ex = Assert.Throws<InvalidCheckpointException>(() => f.ReadTensor("q"));
        Assert.Contains("unsupported dtype I8 for tensor q in " + p, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void ReadsForeignHeaderWithPaddingAndMetadataOnly()
    {
        using var dir = new TempDir();
        string p = dir.File("m.safetensors");
        WriteRaw(p, """{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}     """,
            BitConverter.GetBytes(1.5f).Concat(BitConverter.GetBytes(-3f)).ToArray());
        using var f = SafetensorsFile.Open(p);
        Assert.Equal([1.5f, -3f], f.ReadTensor("w").Data);
    }

    [Fact]
    public void WriterRejectsDuplicatesAndLeavesNothing()
    {
        using var dir = new TempDir();
        string p = dir.File("d.safetensors");
        var t = new Tensor([1f], 1);
        Assert.Throws<InvalidInputException>(() => SafetensorsWriter.Write(p, [("a", t), ("a", t)]));
        Assert.Throws<InvalidInputException>(() => SafetensorsWriter.Write(p, [("a", t)], dtype: "I8"));
        Assert.False(File.Exists(p));
        Assert.False(File.Exists(p + ".tmp"));
    }

    [Fact]
    public void WriterErrorMidStreamLeavesOldFileIntact()
    {
        using var dir = new TempDir();
        string p = dir.File("keep.safetensors");
        SafetensorsWriter.Write(p, [("a", new Tensor([1f], 1))]);
        IEnumerable<(string, Tensor)> Failing()
        {
            yield return ("b", new Tensor([2f], 1));
            throw new InvalidOperationException("boom");
        }
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(p, Failing()));
        using var f = SafetensorsFile.Open(p);
        Assert.Equal(["a"], f.Names);
        Assert.False(File.Exists(p + ".tmp"));
    }

    [Fact]
    public void ShardedCheckpoint()
    {
        using var dir = new TempDir();
        var a = Random(3, 2, 3);
        var b = Random(4, 4);
        var c = Random(5, 1);
        SafetensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), [("transformer.wte.weight", a), ("transformer.wpe.weight", b)]);
        SafetensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), [("transformer.ln_f.bias", c)]);
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName), """
            {"metadata":{"total_size":60},"weight_map":{
              "transformer.wte.weight":"model-00001-of-00002.safetensors",
              "transformer.wpe.weight":"model-00001-of-00002.safetensors",
              "transformer.ln_f.bias":"model-00002-of-00002.safetensors"}}
            """);
        using var ck = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(2, ck.Files.Count);
        Assert.Equal(["transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.bias"], ck.Names);
        Assert.Equal(a.Data, ck.ReadTensor("transformer.wte.weight").Data);
        Assert.Equal(c.Data, ck.ReadTensor("transformer.ln_f.bias").Data);
        Assert.Equal([4], ck.GetShape("transformer.wpe.weight"));
        Assert.Equal("F32", ck.GetDtype("transformer.ln_f.bias"));
        Assert.Throws<InvalidCheckpointException>(() => ck.ReadTensor("nope"));
    }

    [Fact]
    public void ShardedCheckpointErrors()
    {
        using var dir = new TempDir();
        SafetensorsWriter.Write(dir.File("s1.safetensors"), [("x", new Tensor([1f], 1))]);
        string index = dir.File(SafetensorsCheckpoint.IndexFileName);
        File.WriteAllText(index, """{"weight_map":{"x":"s1.safetensors","y":"s1.safetensors"}}""");
        Assert.Contains("'y'", Assert.Throws<InvalidCheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);
        File.WriteAllText(index, """{"weight_map":{"x":"missing.safetensors"}}""");
        Assert.Contains("missing.safetensors", Assert.Throws<InvalidCheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);
        File.WriteAllText(index, """{"weight_map":{"x":"../s1.safetensors"}}""");
        Assert.Throws<InvalidCheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));
        File.WriteAllText(index, """{"weight_map":[1,2]}""");
        Assert.Throws<InvalidCheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));
        File.WriteAllText(index, "{not json");
        Assert.Throws<InvalidCheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));
        File.Delete(index);
        Assert.Throws<ModelNotFoundException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Throws<ModelNotFoundException>(() => SafetensorsFile.Open(dir.File("nope.safetensors")));
    }

    internal static void WriteRaw(string path, string header, byte[] data) =>
        WriteRaw(path, Encoding.UTF8.GetBytes(header), data);

    internal static void WriteRaw(string path, byte[] header, byte[] data)
    {
        using var fs = File.Create(path);
        fs.Write(BitConverter.GetBytes((ulong)header.Length));
        fs.Write(header);
        fs.Write(data);
    }
}
