using VisionRwkv.Common;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length, a UTF-8 JSON header mapping each name to <c>dtype</c>, <c>shape</c> and <c>data_offsets</c>
/// (relative to the end of the header) plus an optional <c>__metadata__</c> string map, then raw little-endian bytes.
/// </summary>
public static class SafeTensors
{
    /// <summary>The reference implementation refuses headers above 100 MB; a larger one means a corrupt file.</summary>
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private const string MetadataKey = "__metadata__";

    private sealed record Entry(string Name, torch.ScalarType Type, long[] Shape, long Begin, long End);

    /// <summary>Reads every tensor into CPU memory. Throws <see cref="InvalidDataException"/> naming the file and the problem.</summary>
    public static Checkpoint Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such safetensors file", path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors reading assumes a little-endian machine");

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var fileLength = stream.Length;
        if (fileLength < 8)
            throw Bad(path, $"file is {fileLength} bytes, shorter than the 8-byte header length that starts a safetensors file");

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad(path, $"header length {headerLength} exceeds the {fileLength - 8} bytes after the length field (not a safetensors file, or truncated)");
        if (headerLength > MaxHeaderBytes)
            throw Bad(path, $"header length {headerLength} is above the 100 MB limit");
        if (headerLength < 2)
            throw Bad(path, $"header length {headerLength} is too small to hold a JSON object");

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;

        var (entries, metadata) = ParseHeader(path, headerBytes, dataLength);

        var tensors = new Dictionary<string, torch.Tensor>(entries.Count, StringComparer.Ordinal);
        try
        {
            foreach (var e in entries)
            {
                var t = torch.empty(e.Shape, dtype: e.Type).DetachFromDisposeScope();
                tensors.Add(e.Name, t);
                stream.Position = dataStart + e.Begin;
                DTypes.ReadInto(t, stream, e.End - e.Begin);
            }
        }
        catch
        {
            foreach (var t in tensors.Values)
                t.Dispose();
            throw;
        }
        return new Checkpoint(path, tensors, metadata);
    }

    /// <summary>
    /// Writes tensors (any device; copied to CPU, contiguous) in the dictionary's order, atomically.
    /// Each tensor is stored at an offset that is a multiple of 8 bytes past the header, as the reference writer does.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors writing assumes a little-endian machine");

        var layout = new List<(string Name, torch.Tensor Tensor, long Begin, long End)>(tensors.Count);
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name == MetadataKey)
                throw new ArgumentException($"{path}: '{MetadataKey}' is reserved and cannot name a tensor", nameof(tensors));
            ArgumentNullException.ThrowIfNull(tensor, name);
            _ = DTypes.SafeTensorsName(tensor.dtype); // fail before writing anything
            var bytes = tensor.numel() * DTypes.Size(tensor.dtype);
            layout.Add((name, tensor, offset, offset + bytes));
            offset += bytes;
        }

        var header = BuildHeader(layout, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
            stream.Write(lengthBytes);
            stream.Write(header);
            foreach (var (_, tensor, _, _) in layout)
            {
                var contiguous = DTypes.ContiguousCpu(tensor);
                try
                {
                    DTypes.WriteFrom(contiguous, stream);
                }
                finally
                {
                    if (!ReferenceEquals(contiguous, tensor))
                        contiguous.Dispose();
                }
            }
        });
    }

    private static byte[] BuildHeader(List<(string Name, torch.Tensor Tensor, long Begin, long End)> layout, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata)
                    json.WriteString(k, v);
                json.WriteEndObject();
            }
            foreach (var (name, tensor, begin, end) in layout)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypes.SafeTensorsName(tensor.dtype));
                json.WriteStartArray("shape");
                foreach (var d in tensor.shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(begin);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned (valid JSON whitespace; the reference does the same).
        var length = buffer.Length;
        var padded = (length + 7) / 8 * 8;
        for (var i = length; i < padded; i++)
            buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] headerBytes, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes);
        }
        catch (JsonException ex)
        {
            throw Bad(path, $"the {headerBytes.Length}-byte JSON header is not valid JSON (error at byte {ex.BytePositionInLine ?? 0} of line {(ex.LineNumber ?? 0) + 1})");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"header must be a JSON object, found {doc.RootElement.ValueKind}");

            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw Bad(path, $"header names '{prop.Name}' twice");
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw Bad(path, $"'{MetadataKey}' must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw Bad(path, $"'{MetadataKey}.{m.Name}' must be a string, found {m.Value.ValueKind}");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, prop.Name, prop.Value, dataLength));
            }

            CheckNoOverlap(path, entries);
            return (entries, metadata);
        }
    }

    private static Entry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"tensor '{name}': entry must be an object with dtype, shape and data_offsets");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad(path, $"tensor '{name}': missing string 'dtype'");
        var dtypeName = dtypeElement.GetString()!;
        if (!DTypes.TryFromSafeTensorsName(dtypeName, out var type, out var elementSize))
            throw Bad(path, $"tensor '{name}': unsupported dtype '{dtypeName}' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor '{name}': missing array 'shape'");
        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0)
                throw Bad(path, $"tensor '{name}': shape entry {d} is not a non-negative integer");
            shape[i++] = dim;
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw Bad(path, $"tensor '{name}': 'data_offsets' must be an array [begin, end]");
        var begin = ReadOffset(path, name, offsetsElement[0]);
        var end = ReadOffset(path, name, offsetsElement[1]);
        if (end < begin)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}] run past the {dataLength}-byte data section (truncated file?)");

        long expected;
        try
        {
            expected = checked(DTypes.Numel(shape) * elementSize);
        }
        catch (OverflowException)
        {
            throw Bad(path, $"tensor '{name}': shape [{string.Join(", ", shape)}] is too large");
        }
        if (expected != end - begin)
            throw Bad(path, $"tensor '{name}': {dtypeName} [{string.Join(", ", shape)}] needs {expected} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        return new Entry(name, type, shape, begin, end);
    }

    private static long ReadOffset(string path, string name, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var v) || v < 0)
            throw Bad(path, $"tensor '{name}': data offset {element} is not a non-negative integer");
        return v;
    }

    private static void CheckNoOverlap(string path, List<Entry> entries)
    {
        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End)
                throw Bad(path, $"tensors '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}] and '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}] overlap");
        }
    }

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: {problem}");
}
