using VisionRwkv.Runtime;
using VisionRwkv.Wkv;

namespace VisionRwkv.Blocks;

/// <summary>
/// What one Vision-RWKV block needs to know, and no more: the model config (<c>VrwkvConfig</c>) sits above the blocks
/// and hands each block this part of itself, so blocks never depend on the model that stacks them.
/// </summary>
public sealed record BlockConfig
{
    /// <summary>C, the token width.</summary>
    public int EmbedDims { get; init; } = 192;
    /// <summary>Number of blocks in the stack; the fancy initialisation of decays and mixes depends on layerId / Depth.</summary>
    public int Depth { get; init; } = 12;
    /// <summary>Channel-mix hidden size = HiddenRate * EmbedDims.</summary>
    public int HiddenRate { get; init; } = 4;
    /// <summary>Res-post-norm (S/B/L): LayerNorm on each branch output instead of its input.</summary>
    public bool PostNorm { get; init; }
    /// <summary>Extra LayerNorm on the WKV output and on the squared-ReLU keys (VRWKV-L).</summary>
    public bool KeyNorm { get; init; }
    /// <summary>Layer scale: gamma1/gamma2 initialised to this value; null = no layer scale.</summary>
    public float? InitValues { get; init; }
    /// <summary>Q-Shift distance in patches.</summary>
    public int ShiftPixel { get; init; } = 1;
    /// <summary>Fraction of channels Q-Shift moves in each of the four directions.</summary>
    public double ChannelGamma { get; init; } = 0.25;
    /// <summary>Exact Bi-WKV or the released CUDA kernel's behaviour.</summary>
    public WkvCompat Wkv { get; init; } = WkvCompat.Exact;
    /// <summary>Which Bi-WKV implementation runs.</summary>
    public WkvImplementation WkvImplementation { get; init; } = WkvImplementation.Auto;

    /// <summary>Which fused CUDA kernels may run.</summary>
    public KernelOptions Kernels { get; init; } = KernelOptions.Default;

    public int HiddenDims => HiddenRate * EmbedDims;
}
