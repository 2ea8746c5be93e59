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
}
