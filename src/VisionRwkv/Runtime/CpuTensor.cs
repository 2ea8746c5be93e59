using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
