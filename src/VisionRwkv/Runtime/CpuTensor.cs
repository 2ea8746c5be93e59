using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace VisionRwkv.Runtime;

/// <summary>Raw access to CPU tensors for the fused SIMD kernels.</summary>
internal static unsafe class CpuTensor
{
    /// <summary>
    /// Address of a contiguous CPU tensor's first element. Through <see cref="Tensor.bytes"/>, so at most
    /// int.MaxValue bytes: callers check the size before choosing a fused path.
    /// </summary>
    public static nint Ptr(Tensor t) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>
    /// Whether an element-wise fused kernel may replace LibTorch ops on these tensors with the same bits: all contiguous
    /// float32 CPU tensors of one element count (at most int.MaxValue bytes), Vector256 accelerated and hardware FMA
    /// (LibTorch's AVX2 kernels fuse multiply-adds; elsewhere, e.g. ARM64, the ops must run).
    /// </summary>
    public static bool FusableElementwise(params Tensor[] tensors) =>
        Vector256.IsHardwareAccelerated && Fma.IsSupported &&
        tensors.All(t => t.device_type == TorchSharp.DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous() &&
            t.numel() == tensors[0].numel()) &&
        tensors[0].numel() <= int.MaxValue / sizeof(float);

    /// <summary>Elements per parallel work item of <see cref="ForEachChunk"/>: large enough that scheduling costs nothing next to the loop.</summary>
    public const long Chunk = 1 << 16;

    /// <summary>Runs <paramref name="body"/>(start, end) over [0, n) in chunks of <see cref="Chunk"/>, in parallel when there are several.</summary>
    public static void ForEachChunk(long n, Action<long, long> body)
    {
        long chunks = (n + Chunk - 1) / Chunk;
        if (chunks <= 1)
            body(0, n);
        else
            Parallel.For(0L, chunks, i => body(i * Chunk, Math.Min(n, (i + 1) * Chunk)));
    }
}
