using System.Text;
using SharpLens.Loading;

namespace SharpLens.Tests.Loading;

/// <summary>Random and mutated headers must only ever raise <see cref="InvalidCheckpointException"/>.</summary>
public class SafetensorsFuzzTests
{
    private static readonly string[] Dtypes = ["F32", "F16", "BF16", "I8", "U8", "I64", "F64", "BOOL", "Q4", "", "f32"];

    private static string RandomHeader(Random rng, int dataLen)
    {
        var sb = new StringBuilder("{");
        int n = rng.Next(0, 5);
        long offset = 0;
        for (int i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(',');
            string dtype = Dtypes[rng.Next(Dtypes.Length)];
            int rank = rng.Next(0, 4);
            var shape = new List<string>();
            long count = 1;
            for (int r = 0; r < rank; r++)
            {
                long d = rng.Next(10) switch
                {
                    0 => -1,
                    1 => int.MaxValue,
                    2 => (long)int.MaxValue + 1,
                    3 => 0,
                    _ => rng.Next(1, 4),
                };
                shape.Add(rng.Next(40) == 0 ? "1.5" : rng.Next(60) == 0 ? "\"3\"" : d.ToString());
                count *= Math.Max(d, 0);
            }
            long size = SafetensorsFile.DtypeSize(dtype) is > 0 and var s ? s * count : count;
            long begin = rng.Next(4) == 0 ? rng.Next(-2, dataLen + 4) : offset;
            long end = rng.Next(4) == 0 ? begin + rng.Next(-3, 12) : begin + size;
            if (rng.Next(30) == 0) end = long.MaxValue;
            offset = end;
            string name = rng.Next(20) == 0 ? "__metadata__" : rng.Next(15) == 0 ? "dup" : "t" + i;
            string offs = rng.Next(30) == 0 ? $"[{begin}]" : $"[{begin},{end}]";
            sb.Append($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(',', shape)}],\"data_offsets\":{offs}}}");
        }
        if (rng.Next(5) == 0) sb.Append(n > 0 ? "," : "").Append("\"__metadata__\":{\"a\":").Append(rng.Next(2) == 0 ? "\"b\"" : "1").Append('}');
        sb.Append('}');
        return sb.ToString();
    }

    private static byte[] Mutate(Random rng, byte[] file)
    {
        var b = (byte[])file.Clone();
        switch (rng.Next(7))
        {
            case 0: return b[..rng.Next(0, b.Length + 1)]; // truncate
            case 1: // flip random bytes
                for (int k = 0; k < rng.Next(1, 6) && b.Length > 0; k++) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                return b;
            case 2: // huge or odd header length
                if (b.Length >= 8)
                {
                    ulong len = rng.Next(4) switch { 0 => ulong.MaxValue, 1 => (ulong)long.MaxValue, 2 => 1UL << 40, _ => (ulong)rng.Next(0, b.Length + 16) };
                    BitConverter.GetBytes(len).CopyTo(b, 0);
                }
                return b;
            case 3: // garbage body
                if (b.Length > 8) rng.NextBytes(b.AsSpan(8));
                return b;
            case 4: // flip within the header digits
                for (int k = 8; k < b.Length; k++)
                    if (b[k] is >= (byte)'0' and <= (byte)'9' && rng.Next(4) == 0) b[k] = (byte)('0' + rng.Next(10));
                return b;
            case 5: // deep nesting
                var deep = Encoding.UTF8.GetBytes(new string('[', 5000));
                return [.. BitConverter.GetBytes((ulong)deep.Length), .. deep];
            default:
                return b;
        }
    }

    private static byte[] Build(string header, int dataLen, Random rng)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var data = new byte[dataLen];
        rng.NextBytes(data);
        return [.. BitConverter.GetBytes((ulong)h.Length), .. h, .. data];
    }

    [Fact]
    public void OnlyInvalidCheckpointExceptionIsEverThrown()
    {
        var rng = new Random(12345);
        using var dir = new TempDir();
        string path = dir.File("fuzz.safetensors");
        int opened = 0, rejected = 0;
        for (int iter = 0; iter < 3000; iter++)
        {
            int dataLen = rng.Next(0, 64);
            byte[] file = Build(RandomHeader(rng, dataLen), dataLen, rng);
            if (rng.Next(3) != 0) file = Mutate(rng, file);
            File.WriteAllBytes(path, file);
            try
            {
                using var f = SafetensorsFile.Open(path);
                opened++;
                foreach (var name in f.Names)
                {
                    _ = f.GetShape(name);
                    try { var t = f.ReadTensor(name); Assert.Equal(f.GetShape(name), t.Shape); }
                    catch (InvalidCheckpointException e) { Assert.Contains("unsupported dtype", e.Message); }
                }
            }
            catch (InvalidCheckpointException e)
            {
                rejected++;
                Assert.DoesNotContain('\n', e.Message);
                Assert.Contains(path, e.Message);
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {iter}: {e.GetType().Name}: {e.Message}\nfile bytes: {Convert.ToHexString(file[..Math.Min(file.Length, 400)])}");
            }
        }
        Assert.True(opened > 100, $"only {opened} valid files opened");
        Assert.True(rejected > 100, $"only {rejected} files rejected");
    }

    [Theory]
    [InlineData("")]
    [InlineData("1234567")]
    public void TooShortFiles(string content)
    {
        using var dir = new TempDir();
        string p = dir.File("short.safetensors");
        File.WriteAllText(p, content);
        Assert.Throws<InvalidCheckpointException>(() => SafetensorsFile.Open(p));
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 16, "overlapping")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "past the end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 8, "invalid axis size")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}""", 8, "overflows")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needing 12 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "invalid data_offsets")]
    [InlineData("""{"a":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}}""", 8, "unknown dtype")]
    [InlineData("""[1,2]""", 0, "not an object")]
    [InlineData("""{"a":""", 0, "not valid JSON")]
    public void SpecificHeaderErrors(string header, int dataLen, string expected)
    {
        using var dir = new TempDir();
        string p = dir.File("bad.safetensors");
        SafetensorsTests.WriteRaw(p, header, new byte[dataLen]);
        var ex = Assert.Throws<InvalidCheckpointException>(() => SafetensorsFile.Open(p));
        Assert.Contains(expected, ex.Message);
        Assert.Contains(p, ex.Message);
    }

    [Fact]
    public void HugeHeaderLengthDoesNotAllocate()
    {
        using var dir = new TempDir();
        string p = dir.File("huge.safetensors");
        File.WriteAllBytes(p, [.. BitConverter.GetBytes(ulong.MaxValue - 3), .. "{}"u8.ToArray()]);
        var ex = Assert.Throws<InvalidCheckpointException>(() => SafetensorsFile.Open(p));
        Assert.Contains("truncated", ex.Message);
    }
}
