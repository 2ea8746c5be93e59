namespace VisionRwkv.Runtime;

/// <summary>
/// Which fused kernels may run, passed down explicitly (model config → blocks → WKV and token shift; trainer → AdamW)
/// instead of being read from the environment deep in the library. The CLI builds one from its environment once, at
/// start-up (RWKV_WKV_CUDA=0, RWKV_TSM_CUDA=0, RWKV_ADAMW_CUDA=0, RWKV_WKV_SEGMENTS=N), so a GPU benchmark can switch
/// a kernel off to measure what it buys. Every switch only concerns CUDA: the fused CPU kernels are the reference's
/// equals bit for bit or within tested tolerances and always run.
/// </summary>
public sealed record KernelOptions
{
    /// <summary>The fused CUDA WKV kernels (else the chunked tensor-op WKV runs on CUDA).</summary>
    public bool CudaWkv { get; init; } = true;

    /// <summary>The fused CUDA Q-Shift + token-mix kernels (else the tensor-op composition).</summary>
    public bool CudaTokenShift { get; init; } = true;

    /// <summary>The fused CUDA AdamW kernel (else TorchSharp's op sequence).</summary>
    public bool CudaAdamW { get; init; } = true;

    /// <summary>When positive, the number of segments every bidirectional CUDA WKV forward cuts T into (1: never cut);
    /// 0 lets the kernel choose from the GPU's size.</summary>
    public long CudaWkvSegments { get; init; }

    /// <summary>Every fused kernel allowed, segments chosen automatically.</summary>
    public static KernelOptions Default { get; } = new();
}
