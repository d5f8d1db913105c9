using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using SharpLens.Tensors;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Loading;

/// <summary>Writes tensors to a .safetensors file, atomically (via <c>path.tmp</c> then rename).</summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> in order to <paramref name="path"/> stored as <paramref name="dtype"/>
    /// ("F32", "F16" or "BF16"; F16/BF16 round to nearest even). Nothing is left at <paramref name="path"/> on error.
    /// </summary>
    /// <exception cref="InvalidInputException">Duplicate or empty names, or an unsupported dtype.</exception>
    public static void Write(string path, IEnumerable<(string name, Tensor tensor)> tensors,
        IDictionary<string, string>? metadata = null, string dtype = "F32")
    {
        if (dtype is not ("F32" or "F16" or "BF16"))
            throw new InvalidInputException($"cannot write {path} as dtype {dtype}: SafetensorsWriter writes F32, F16 or BF16");
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
                throw new InvalidInputException($"cannot write {path}: invalid tensor name '{name}'; use a non-empty name other than __metadata__");
            if (!seen.Add(name))
                throw new InvalidInputException($"cannot write {path}: tensor '{name}' given twice; give each tensor a unique name");
            ArgumentNullException.ThrowIfNull(t);
        }
        int size = dtype == "F32" ? 4 : 2;

        byte[] header = BuildHeader(list, metadata, dtype, size);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string tmp = full + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> len = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                var buffer = new byte[1 << 20];
                foreach (var (_, t) in list) WriteData(fs, t.Data, dtype, buffer);
                fs.Flush(flushToDisk: false);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static byte[] BuildHeader(List<(string name, Tensor tensor)> list, IDictionary<string, string>? metadata, string dtype, int size)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype);
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                long bytes = (long)t.Data.Length * size;
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad with spaces so the data region starts 8-byte aligned (as the reference writer does).
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    private static void WriteData(Stream fs, float[] data, string dtype, byte[] buffer)
    {
        if (dtype == "F32" && BitConverter.IsLittleEndian)
        {
            fs.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        int chunk = buffer.Length / 4;
        for (int start = 0; start < data.Length; start += chunk)
        {
            var src = data.AsSpan(start, Math.Min(chunk, data.Length - start));
            switch (dtype)
            {
                case "F32":
                    for (int i = 0; i < src.Length; i++)
                        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), src[i]);
                    fs.Write(buffer, 0, src.Length * 4);
                    break;
                case "F16":
                    TensorPrimitives.ConvertToHalf(src, MemoryMarshal.Cast<byte, Half>(buffer.AsSpan(0, src.Length * 2)));
                    fs.Write(buffer, 0, src.Length * 2);
                    break;
                case "BF16":
                    SingleToBf16(src, MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan(0, src.Length * 2)));
                    fs.Write(buffer, 0, src.Length * 2);
                    break;
            }
        }
    }

    /// <summary>float32 -> bfloat16 with round-to-nearest-even; NaN stays NaN.</summary>
    internal static void SingleToBf16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(src[i]);
            if ((bits & 0x7FFFFFFF) > 0x7F800000) { dst[i] = (ushort)((bits >> 16) | 0x0040); continue; }
            uint rounded = bits + 0x7FFF + ((bits >> 16) & 1);
            dst[i] = (ushort)(rounded >> 16);
        }
    }
}
