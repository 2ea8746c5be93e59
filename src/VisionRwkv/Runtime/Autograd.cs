using static TorchSharp.torch;

namespace VisionRwkv.Runtime;

/// <summary>When the fused kernels need their autograd wrappers.</summary>
internal static class Autograd
{
    /// <summary>
    /// Whether autograd records an op on these inputs (grad mode on and one of them requires grad). When it does not,
    /// the fused kernels run directly: TorchSharp's managed autograd node would otherwise hold native memory until
    /// the garbage collector finalizes it, and the forward can skip what only backward reads.
    /// </summary>
    public static bool Tracks(params Tensor[] inputs) => is_grad_enabled() && inputs.Any(t => t.requires_grad);
}
