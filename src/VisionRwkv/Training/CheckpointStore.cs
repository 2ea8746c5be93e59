using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>
/// A minimal safetensors reader/writer used by the training engine only. It exists so this folder does not depend on
/// the shared <c>VisionRwkv.Checkpoints.SafeTensors</c> while that is written in parallel; switch to the shared one at merge.
/// Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {..}},
/// then the raw little-endian tensor bytes.
/// </summary>
internal static class CheckpointStore
{
    static readonly Dictionary<ScalarType, string> DtypeNames = new()
    {
        [ScalarType.Float32] = "F32",
        [ScalarType.Float64] = "F64",
        [ScalarType.Float16] = "F16",
        [ScalarType.BFloat16] = "BF16",
        [ScalarType.Int64] = "I64",
        [ScalarType.Int32] = "I32",
        [ScalarType.Int16] = "I16",
        [ScalarType.Int8] = "I8",
        [ScalarType.Byte] = "U8",
        [ScalarType.Bool] = "BOOL",
    };

    /// <summary>Writes tensors (any device; copied to CPU) and string metadata atomically: temp file, flush, rename.</summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = metadata;
        long offset = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in tensors)
        {
            if (!seen.Add(name))
                throw new ArgumentException($"Duplicate tensor name '{name}' while writing {path}.");
            if (!DtypeNames.TryGetValue(t.dtype, out var dt))
                throw new ArgumentException($"Tensor '{name}' has dtype {t.dtype}, which {path} cannot store.");
            long bytes = t.numel() * t.ElementSize;
            header[name] = new { dtype = dt, shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        // Pad the header with spaces to an 8-byte boundary so the data section is aligned (the format allows it).
        int pad = (8 - json.Length % 8) % 8;

        AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
            stream.Write(len);
            stream.Write(json);
            for (int i = 0; i < pad; i++) stream.WriteByte((byte)' ');
            foreach (var (_, t) in tensors)
            {
                using var cpu = t.detach().cpu().contiguous();
                WriteBytes(stream, cpu);
            }
        });
    }

    static void WriteBytes(Stream stream, Tensor cpuContiguous)
    {
        if (cpuContiguous.numel() > 0)
            cpuContiguous.WriteBytesToStream(stream, 1 << 20);
    }

    /// <summary>Reads every tensor (on CPU, detached from any dispose scope; the caller disposes them) and the metadata.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        if (stream.Read(len) != 8)
            throw new InvalidDataException($"'{path}' is not a safetensors file: shorter than its 8-byte header length.");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLen > (ulong)Math.Min(stream.Length - 8, 100_000_000))
            throw new InvalidDataException($"'{path}' is not a safetensors file: header length {headerLen} exceeds the file.");
        var headerBytes = new byte[headerLen];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLen;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw new InvalidDataException($"'{path}' has a malformed safetensors header: {e.Message}", e); }

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using (doc)
        {
            try
            {
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Name == "__metadata__")
                    {
                        foreach (var m in prop.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.GetString() ?? "";
                        continue;
                    }
                    var dtName = prop.Value.GetProperty("dtype").GetString();
                    var dtype = DtypeNames.FirstOrDefault(kv => kv.Value == dtName).Key;
                    if (dtName is null || !DtypeNames.ContainsValue(dtName))
                        throw new InvalidDataException($"'{path}': tensor '{prop.Name}' has unsupported dtype '{dtName}'.");
                    var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    var offs = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    var t = torch.empty(shape, dtype: dtype).DetachFromDisposeScope();
                    long bytes = t.numel() * t.ElementSize;
                    if (offs.Length != 2 || offs[1] - offs[0] != bytes || dataStart + offs[1] > stream.Length)
                    {
                        t.Dispose();
                        throw new InvalidDataException($"'{path}': tensor '{prop.Name}' has data_offsets inconsistent with its shape or the file size.");
                    }
                    stream.Position = dataStart + offs[0];
                    ReadBytes(stream, t);
                    tensors[prop.Name] = t;
                }
            }
            catch
            {
                foreach (var t in tensors.Values) t.Dispose();
                throw;
            }
        }
        return (tensors, metadata);
    }

    static void ReadBytes(Stream stream, Tensor t)
    {
        if (t.numel() > 0)
            t.ReadBytesFromStream(stream, 1 << 20);
    }
}

/// <summary>Atomic file writes: write a temp file beside the target, flush to disk, then rename over the target.</summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw;
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, s => s.Write(new UTF8Encoding(false).GetBytes(text)));

    public static void Copy(string source, string destination) =>
        Write(destination, s => { using var src = File.OpenRead(source); src.CopyTo(s); });
}
