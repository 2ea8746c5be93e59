using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Runtime;

/// <summary>
/// Tensor arithmetic for hot paths without TorchSharp's hidden per-call Scalars. <c>x + y</c> is <c>x.add(y, 1)</c>,
/// and the implicit conversion of that 1 allocates a native Scalar that only the finalizer frees. The garbage collector
/// runs rarely in a loop of tensor ops (their managed objects are small), so these 32-byte objects pile up in the
/// native heap, each left inside the gap of a freed activation, and the heap cannot hand the gap out again: a
/// vrwkv_t inference loop at 896x896 grew by tens of MB per forward pass until they were gone.
/// </summary>
internal static class ScalarFree
{
    // Immutable and read-only on the native side, so one instance serves every thread for the life of the process.
    private static readonly Scalar One = 1.ToScalar();

    /// <summary>x + y (broadcasting as <see cref="Tensor.add(Tensor)"/>).</summary>
    public static Tensor Plus(this Tensor x, Tensor y) => x.add(y, One);
}
