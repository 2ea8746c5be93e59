using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>Element types shared by the checkpoint formats: safetensors dtype names, sizes, and raw-byte copies.</summary>
internal static class DTypes
{
    private static readonly (string Name, torch.ScalarType Type, int Size)[] Table =
    [
        ("F64", torch.ScalarType.Float64, 8),
        ("F32", torch.ScalarType.Float32, 4),
        ("F16", torch.ScalarType.Float16, 2),
        ("BF16", torch.ScalarType.BFloat16, 2),
        ("I64", torch.ScalarType.Int64, 8),
        ("I32", torch.ScalarType.Int32, 4),
        ("I16", torch.ScalarType.Int16, 2),
        ("I8", torch.ScalarType.Int8, 1),
        ("U8", torch.ScalarType.Byte, 1),
        ("BOOL", torch.ScalarType.Bool, 1),
    ];

    public static bool TryFromSafeTensorsName(string name, out torch.ScalarType type, out int size)
    {
        foreach (var entry in Table)
        {
            if (entry.Name == name)
            {
                type = entry.Type;
                size = entry.Size;
                return true;
            }
        }
        type = default;
        size = 0;
        return false;
    }

    public static string SafeTensorsName(torch.ScalarType type)
    {
        foreach (var entry in Table)
        {
            if (entry.Type == type)
                return entry.Name;
        }
        throw new NotSupportedException($"dtype {type} has no safetensors name");
    }

    public static int Size(torch.ScalarType type)
    {
        foreach (var entry in Table)
        {
            if (entry.Type == type)
                return entry.Size;
        }
        throw new NotSupportedException($"dtype {type} is not supported in checkpoints");
    }

    public static long Numel(IReadOnlyList<long> shape)
    {
        long n = 1;
        foreach (var d in shape)
            n = checked(n * d);
        return n;
    }

    /// <summary>Fills a contiguous CPU tensor from a stream (little-endian bytes, exactly the tensor's size).</summary>
    public static void ReadInto(torch.Tensor tensor, Stream stream, long byteCount)
    {
        ForEachChunk(tensor, byteCount, span => stream.ReadExactly(span));
    }

    /// <summary>Writes a contiguous CPU tensor's raw bytes to a stream.</summary>
    public static void WriteFrom(torch.Tensor contiguousCpu, Stream stream)
    {
        ForEachChunk(contiguousCpu, contiguousCpu.numel() * Size(contiguousCpu.dtype), span => stream.Write(span));
    }

    private delegate void SpanAction(Span<byte> span);

    /// <summary>
    /// TorchSharp exposes a tensor's memory as a <c>Span&lt;byte&gt;</c> (<see cref="torch.Tensor.bytes"/>), which is
    /// int-sized; slicing the flat view into narrow chunks keeps tensors above 2 GB working.
    /// </summary>
    private static void ForEachChunk(torch.Tensor tensor, long byteCount, SpanAction action)
    {
        if (byteCount == 0)
            return;
        if (!tensor.is_contiguous() || tensor.device_type != DeviceType.CPU)
            throw new ArgumentException("raw byte access needs a contiguous CPU tensor", nameof(tensor));
        var elementSize = Size(tensor.dtype);
        if (tensor.numel() * elementSize != byteCount)
            throw new ArgumentException($"tensor holds {tensor.numel() * elementSize} bytes, not {byteCount}", nameof(tensor));
        const long chunkBytes = 1L << 26;
        var chunkElements = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.reshape(-1);
        var n = flat.numel();
        for (long start = 0; start < n; start += chunkElements)
        {
            using var chunk = flat.narrow(0, start, Math.Min(chunkElements, n - start));
            action(chunk.bytes);
        }
    }

    /// <summary>A contiguous CPU copy (or the tensor itself when it already is one); the caller disposes it when it differs.</summary>
    public static torch.Tensor ContiguousCpu(torch.Tensor tensor)
    {
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        var contiguous = cpu.is_contiguous() ? cpu : cpu.contiguous();
        if (!ReferenceEquals(cpu, tensor) && !ReferenceEquals(cpu, contiguous))
            cpu.Dispose();
        return contiguous;
    }
}
