using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;
using SharpLens.Tensors;
using Tensor = SharpLens.Tensors.Tensor;

namespace SharpLens.Loading;

/// <summary>Read access to named tensors of a checkpoint (one safetensors file or a sharded set).</summary>
public interface ITensorReader : IDisposable
{
    /// <summary>Tensor names, in file order.</summary>
    IReadOnlyList<string> Names { get; }
    /// <summary>Whether the checkpoint holds a tensor named <paramref name="name"/>.</summary>
    bool Contains(string name);
    /// <summary>Shape of tensor <paramref name="name"/> (a copy).</summary>
    int[] GetShape(string name);
    /// <summary>Safetensors dtype string of tensor <paramref name="name"/>, e.g. "F32".</summary>
    string GetDtype(string name);
    /// <summary>Reads tensor <paramref name="name"/> converted to float32.</summary>
    Tensor ReadTensor(string name);
}

/// <summary>Where a tensor lives in a safetensors file.</summary>
/// <param name="Name">Tensor name as stored.</param>
/// <param name="Dtype">Safetensors dtype string.</param>
/// <param name="Shape">Axis sizes.</param>
/// <param name="Begin">Start offset within the data region (after the header).</param>
/// <param name="End">End offset (exclusive) within the data region.</param>
public sealed record SafetensorsEntry(string Name, string Dtype, int[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (product of the shape).</summary>
    public long ElementCount
    {
        get { long n = 1; foreach (int d in Shape) n *= d; return n; }
    }
}

/// <summary>
/// A memory-mapped .safetensors file: an 8-byte little-endian header length, a JSON header
/// (name -> {dtype, shape, data_offsets}, optional <c>__metadata__</c>), then the raw data.
/// The header is validated completely on open; <see cref="ReadTensor"/> converts to float32 in one copy
/// from the mapped view. Reads are thread-safe.
/// </summary>
public sealed unsafe class SafetensorsFile : ITensorReader
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderLength = 100L * 1024 * 1024;

    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsEntry> _entries;
    private readonly List<string> _names;
    private int _disposed;

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <summary>All entries in file order.</summary>
    public IEnumerable<SafetensorsEntry> Entries => _names.Select(n => _entries[n]);

    private SafetensorsFile(string path, MemoryMappedFile mmf, MemoryMappedViewAccessor view, long dataStart,
        Dictionary<string, SafetensorsEntry> entries, List<string> names, Dictionary<string, string> metadata)
    {
        Path = path;
        _mmf = mmf;
        _view = view;
        _dataStart = dataStart;
        _entries = entries;
        _names = names;
        Metadata = metadata;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="ModelNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidCheckpointException">The file is not a valid safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
            throw new ModelNotFoundException($"safetensors file {path} does not exist: check the path or download the model again");

        byte[] header;
        long fileLength;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1))
        {
            fileLength = fs.Length;
            if (fileLength < 8)
                throw Bad(path, $"is {fileLength} bytes, too short for the 8-byte header length", "the file is truncated or not a safetensors file; download it again");
            Span<byte> lenBytes = stackalloc byte[8];
            fs.ReadExactly(lenBytes);
            ulong headerLen = BitConverter.IsLittleEndian
                ? MemoryMarshal.Read<ulong>(lenBytes)
                : System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
            if (headerLen > (ulong)(fileLength - 8))
                throw Bad(path, $"declares a {headerLen}-byte header but the file has only {fileLength} bytes", "the file is truncated or not a safetensors file; download it again");
            if (headerLen > MaxHeaderLength)
                throw Bad(path, $"declares a {headerLen}-byte header, over the {MaxHeaderLength}-byte limit", "the file is corrupt or not a safetensors file");
            if (headerLen < 2)
                throw Bad(path, $"declares a {headerLen}-byte header, too short for a JSON object", "the file is corrupt or not a safetensors file");
            header = new byte[(int)headerLen];
            fs.ReadExactly(header);
        }

        long dataStart = 8 + header.Length;
        long dataLength = fileLength - dataStart;
        var (entries, names, metadata) = ParseHeader(path, header, dataLength);

        MemoryMappedFile? mmf = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            mmf = MemoryMappedFile.CreateFromFile(
                new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1),
                null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            if (view.Capacity < fileLength)
                throw Bad(path, $"changed size while opening ({view.Capacity} < {fileLength} bytes)", "make sure no other process is writing it");
            return new SafetensorsFile(path, mmf, view, dataStart, entries, names, metadata);
        }
        catch (IOException e)
        {
            view?.Dispose();
            mmf?.Dispose();
            throw new InvalidCheckpointException($"cannot memory-map {path}: {OneLine(e.Message)}; check the file is readable", e);
        }
        catch
        {
            view?.Dispose();
            mmf?.Dispose();
            throw;
        }
    }

    private static InvalidCheckpointException Bad(string path, string problem, string fix) =>
        new($"safetensors file {path} {problem}: {fix}");

    internal static string OneLine(string s) => s.Replace("\r", " ").Replace("\n", " ");

    /// <summary>Byte size of one element of a safetensors dtype, or 0 when the dtype is unknown.</summary>
    public static int DtypeSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    /// <summary>Whether <see cref="ReadTensor"/> can convert the dtype to float32.</summary>
    public static bool IsSupportedDtype(string dtype) => dtype is "F32" or "F16" or "BF16";

    private static (Dictionary<string, SafetensorsEntry>, List<string>, Dictionary<string, string>) ParseHeader(
        string path, byte[] header, long dataLength)
    {
        const string corrupt = "the file is corrupt; download it again";
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw Bad(path, "has a header that is not valid UTF-8", corrupt);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Bad(path, $"has a header that is not valid JSON ({OneLine(e.Message)})", corrupt);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"has a JSON header that is a {root.ValueKind}, not an object", corrupt);

            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            var names = new List<string>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in root.EnumerateObject())
            {
                string name = prop.Name;
                if (name == "__metadata__")
                {
                    if (sawMetadata) throw Bad(path, "has __metadata__ twice in its header", corrupt);
                    sawMetadata = true;
                    if (prop.Value.ValueKind == JsonValueKind.Null) continue;
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw Bad(path, "has a __metadata__ that is not an object", corrupt);
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw Bad(path, $"has __metadata__ value '{m.Name}' that is not a string", corrupt);
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (entries.ContainsKey(name))
                    throw Bad(path, $"lists tensor '{name}' twice in its header", corrupt);
                entries[name] = ParseEntry(path, name, prop.Value, dataLength);
                names.Add(name);
            }

            // Data ranges must not overlap.
            var sorted = entries.Values.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
            for (int i = 1; i < sorted.Count; i++)
            {
                if (sorted[i].Begin < sorted[i - 1].End)
                    throw Bad(path, $"has overlapping data for tensors '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}) and '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End})", corrupt);
            }
            return (entries, names, metadata);
        }
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        const string corrupt = "the file is corrupt; download it again";
        if (e.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"has header entry '{name}' that is not an object", corrupt);
        if (!e.TryGetProperty("dtype", out var dtEl) || dtEl.ValueKind != JsonValueKind.String)
            throw Bad(path, $"has tensor '{name}' without a string dtype", corrupt);
        string dtype = dtEl.GetString()!;
        int size = DtypeSize(dtype);
        if (size == 0)
            throw Bad(path, $"has tensor '{name}' with unknown dtype '{dtype}'", "SharpLens reads F32, F16 and BF16; re-save the checkpoint with one of them");

        if (!e.TryGetProperty("shape", out var shEl) || shEl.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"has tensor '{name}' without a shape array", corrupt);
        int rank = shEl.GetArrayLength();
        if (rank > 32)
            throw Bad(path, $"has tensor '{name}' with {rank} axes", corrupt);
        var shape = new int[rank];
        long count = 1;
        bool zero = false;
        int i = 0;
        foreach (var d in shEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0 || v > int.MaxValue)
                throw Bad(path, $"has tensor '{name}' with invalid axis size {d.GetRawText()} (must be an integer in [0, {int.MaxValue}])", corrupt);
            shape[i++] = (int)v;
            if (v == 0) zero = true;
        }
        if (zero) count = 0;
        else
        {
            foreach (int d in shape)
            {
                if (count > long.MaxValue / size / d)
                    throw Bad(path, $"has tensor '{name}' whose shape [{string.Join(", ", shape)}] overflows", corrupt);
                count *= d;
            }
        }
        long bytes = count * size;

        if (!e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw Bad(path, $"has tensor '{name}' without data_offsets [begin, end]", corrupt);
        var o0 = offEl[0];
        var o1 = offEl[1];
        if (o0.ValueKind != JsonValueKind.Number || o1.ValueKind != JsonValueKind.Number
            || !o0.TryGetInt64(out long begin) || !o1.TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad(path, $"has tensor '{name}' with invalid data_offsets {offEl.GetRawText()}", corrupt);
        if (end > dataLength)
            throw Bad(path, $"has tensor '{name}' with data_offsets [{begin}, {end}) past the end of the {dataLength}-byte data region", "the file is truncated; download it again");
        if (end - begin != bytes)
            throw Bad(path, $"has tensor '{name}' of {dtype} shape [{string.Join(", ", shape)}] needing {bytes} bytes but data_offsets [{begin}, {end}) hold {end - begin}", corrupt);
        if (count > Array.MaxLength)
            throw Bad(path, $"has tensor '{name}' with {count} elements, more than one array can hold", "SharpLens cannot load tensors this large");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>Entry for <paramref name="name"/>; throws <see cref="InvalidCheckpointException"/> when missing.</summary>
    public SafetensorsEntry GetEntry(string name)
    {
        if (_entries.TryGetValue(name, out var e)) return e;
        string some = string.Join(", ", _names.Take(3));
        throw new InvalidCheckpointException(
            $"tensor '{name}' not found in {Path} ({_names.Count} tensors{(_names.Count > 0 ? ", e.g. " + some : "")}): the checkpoint is not the expected model or uses other tensor names");
    }

    /// <inheritdoc/>
    public int[] GetShape(string name) => (int[])GetEntry(name).Shape.Clone();

    /// <inheritdoc/>
    public string GetDtype(string name) => GetEntry(name).Dtype;

    /// <inheritdoc/>
    public Tensor ReadTensor(string name)
    {
        var e = GetEntry(name);
        if (!IsSupportedDtype(e.Dtype))
            throw new InvalidCheckpointException(
                $"unsupported dtype {e.Dtype} for tensor {name} in {Path}: SharpLens reads F32, F16 and BF16; re-save the checkpoint in one of them");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        int count = (int)e.ElementCount;
        // Checkpoint tensors are weights: allocated as Tensor.ZerosLongLived explains.
        var data = GC.AllocateUninitializedArray<float>(count, pinned: true);
        if (count == 0) return new Tensor(data, (int[])e.Shape.Clone());
        // A view per tensor, unmapped right after the copy, so the file's pages never all stay resident next to
        // the converted weights (keeps a GPT-2 load near one copy of the model in memory).
        using var view = _mmf.CreateViewAccessor(_dataStart + e.Begin, e.End - e.Begin, MemoryMappedFileAccess.Read);
        byte* viewBase = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref viewBase);
        try
        {
            byte* src = viewBase + view.PointerOffset;
        switch (e.Dtype)
        {
            case "F32":
                new ReadOnlySpan<byte>(src, checked(count * 4)).CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
                if (!BitConverter.IsLittleEndian) ReverseEndianness32(data);
                break;
            case "F16":
                HalfBits.ToSingle(new ReadOnlySpan<ushort>(src, count), data, Dtype.F16);
                break;
            case "BF16":
                HalfBits.ToSingle(new ReadOnlySpan<ushort>(src, count), data, Dtype.BF16);
                break;
        }
        }
        finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
        GC.KeepAlive(this);
        return new Tensor(data, (int[])e.Shape.Clone());
    }

    private static void ReverseEndianness32(float[] data)
    {
        var ints = MemoryMarshal.Cast<float, uint>(data.AsSpan());
        System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(ints, ints);
    }

    /// <summary>Unmaps the view and closes the file; tensors already read stay valid (they are copies).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }
}
