using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv;

/// <summary>
/// Causal RWKV-4 WKV state after the last processed token, per [B,C] and float32 (float64 when computed from float64 inputs): the real sums are
/// <c>Σ_i e^{k_i-(T-1-i)w}·v_i = Num·e^MaxLog</c> and <c>Σ_i e^{k_i-(T-1-i)w} = Den·e^MaxLog</c>
/// (ChatRWKV's aa, bb, pp). The empty state is (0, 0, -1e30).
/// </summary>
public sealed record Wkv4State(Tensor Num, Tensor Den, Tensor MaxLog) : IDisposable
{
    /// <summary>Moves the three tensors to the enclosing dispose scope (see TorchSharp dispose scopes).</summary>
    public Wkv4State MoveToOuterDisposeScope()
    {
        Num.MoveToOuterDisposeScope();
        Den.MoveToOuterDisposeScope();
        MaxLog.MoveToOuterDisposeScope();
        return this;
    }

    /// <summary>A copy cut off from the autograd graph (for truncated backpropagation through time).</summary>
    public Wkv4State Detach() => new(Num.detach(), Den.detach(), MaxLog.detach());

    public void Dispose()
    {
        Num.Dispose();
        Den.Dispose();
        MaxLog.Dispose();
        GC.SuppressFinalize(this);
    }
}
