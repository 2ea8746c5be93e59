namespace VisionRwkv.Wkv;

/// <summary>Which tokens an output token mixes: only earlier ones (RWKV-4 language model) or all (Vision-RWKV).</summary>
public enum WkvDirection
{
    Causal,
    Bidirectional,
}

/// <summary>Which implementation computes the WKV. <see cref="Auto"/> means <see cref="Fast"/>.</summary>
public enum WkvImplementation
{
    /// <summary>The fast path: fused C# SIMD kernels on CPU, fused CUDA kernels on CUDA, chunked tensor ops elsewhere.</summary>
    Auto,

    /// <summary>The serial log-stable scan in TorchSharp ops: slow, reads like the formula; for tests.</summary>
    Reference,

    /// <summary>The fast path (same as <see cref="Auto"/>).</summary>
    Fast,

    /// <summary>The chunked tensor-op algorithm on any device (the fallback where no fused kernel runs); for tests.</summary>
    Chunked,
}

/// <summary>Which bidirectional formula is computed.</summary>
public enum WkvCompat
{
    /// <summary>The paper's formula (distance |t-i|-1 for i≠t, bonus u on the token itself). The default.</summary>
    Exact,

    /// <summary>
    /// The forward of the original Vision-RWKV CUDA kernel (<c>cuda/wkv_cuda.cu</c>) that trained the released
    /// checkpoints: for T ≤ 32 the clean |t-i| distance, for T &gt; 32 its 32-chunk stitching, plus its 1e-6 epsilon.
    /// Computed with tensor ops (O(T·ceil(T/32)·C)); the backward is plain autograd of that forward, i.e. the exact
    /// gradient of the compat forward, not the (inexact) gradient the official kernel produced.
    /// </summary>
    OfficialOldKernel,
}
