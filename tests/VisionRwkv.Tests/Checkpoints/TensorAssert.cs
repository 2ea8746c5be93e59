using static TorchSharp.torch;

namespace VisionRwkv.Tests.Checkpoints;

internal static class TensorAssert
{
    /// <summary>Same dtype, shape and every element bit-equal in value (no NaNs are expected in these tests).</summary>
    public static bool SameValues(Tensor expected, Tensor actual)
    {
        if (expected.dtype != actual.dtype || !expected.shape.SequenceEqual(actual.shape))
            return false;
        using var a = expected.cpu();
        using var b = actual.cpu();
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }
}
