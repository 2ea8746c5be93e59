using VisionRwkv.Blocks;
using VisionRwkv.Layers;
using VisionRwkv.Runtime;
using VisionRwkv.Wkv;
using VisionRwkv.Datasets;

namespace VisionRwkv.Models;

/// <summary>
/// Constructor arguments of the official <c>VRWKV</c> backbone (mmcls_custom/models/backbones/vrwkv.py) plus the
/// classifier head, under the official names where they exist. Presets are the published configs (vision-rwkv.md §3).
/// </summary>
public sealed record VrwkvConfig
{
    /// <summary>Height of the config image size; fixes the stored pos_embed grid (img_size / patch_size).</summary>
    public int ImgHeight { get; init; } = 224;
    /// <summary>Width of the config image size.</summary>
    public int ImgWidth { get; init; } = 224;
    public int PatchSize { get; init; } = 16;
    /// <summary>
    /// Kernel of the patch-embedding conv; null = <see cref="PatchSize"/> (the official, non-overlapping patches). A
    /// larger kernel with stride PatchSize gives overlapping patches (same token grid, same parameter name).
    /// </summary>
    public int? PatchKernel { get; init; }
    /// <summary>1 for grayscale inputs (X-rays), 3 for RGB.</summary>
    public int InChannels { get; init; } = 3;
    public int EmbedDims { get; init; } = 192;
    public int Depth { get; init; } = 12;
    /// <summary>Channel-mix hidden size = HiddenRate * EmbedDims.</summary>
    public int HiddenRate { get; init; } = 4;
    /// <summary>Res-post-norm (S/B/L): LayerNorm on each branch output instead of its input.</summary>
    public bool PostNorm { get; init; }
    /// <summary>Extra LayerNorm on the WKV output and on the squared-ReLU keys (VRWKV-L).</summary>
    public bool KeyNorm { get; init; }
    /// <summary>Layer scale: gamma1/gamma2 initialised to this value; null = no layer scale (VRWKV-T).</summary>
    public float? InitValues { get; init; }
    public double DropPathRate { get; init; }
    public double DropRate { get; init; }
    public int ShiftPixel { get; init; } = 1;
    public double ChannelGamma { get; init; } = 0.25;
    public bool FinalNorm { get; init; } = true;
    /// <summary>Classes of the linear head; 0 = backbone only.</summary>
    public int NumClasses { get; init; } = 1000;
    /// <summary>VRWKV-L's head: Linear(C, HeadHidden) → Tanh → Linear(HeadHidden, classes); 0 = single Linear (head.fc).</summary>
    public int HeadHidden { get; init; }
    /// <summary>Exact Bi-WKV (default) or the released CUDA kernel's behaviour, for the closest match to official checkpoints.</summary>
    public WkvCompat Wkv { get; init; } = WkvCompat.Exact;
    /// <summary>Which Bi-WKV implementation runs: Auto picks the fast path for the device.</summary>
    public WkvImplementation WkvImplementation { get; init; } = WkvImplementation.Auto;
    /// <summary>Preprocessing the model expects.</summary>
    public DataConfig Data { get; init; } = DataConfig.ImageNet();
    /// <summary>Which fused CUDA kernels may run (a run-time choice, not part of the architecture).</summary>
    public KernelOptions Kernels { get; init; } = KernelOptions.Default;

    public int HiddenDims => HiddenRate * EmbedDims;

    /// <summary>The part of this config every block is built from.</summary>
    public BlockConfig Block => new()
    {
        EmbedDims = EmbedDims, Depth = Depth, HiddenRate = HiddenRate, PostNorm = PostNorm, KeyNorm = KeyNorm,
        InitValues = InitValues, ShiftPixel = ShiftPixel, ChannelGamma = ChannelGamma, Wkv = Wkv,
        WkvImplementation = WkvImplementation, Kernels = Kernels,
    };

    /// <summary>The pos_embed grid the parameters are stored at.</summary>
    public PatchGrid StoredGrid => new((ImgHeight + PatchSize - 1) / PatchSize, (ImgWidth + PatchSize - 1) / PatchSize);

    // ---- Published ImageNet-1K presets (vision-rwkv.md §3) ----

    /// <summary>VRWKV-T: 6.2M params, 75.1 top-1. Pre-norm, no layer scale.</summary>
    public static VrwkvConfig Tiny => new() { EmbedDims = 192, Depth = 12 };

    /// <summary>VRWKV-S: 23.8M params, 80.1 top-1. Post-norm, layer scale 1, drop path 0.3.</summary>
    public static VrwkvConfig Small => new() { EmbedDims = 384, Depth = 12, PostNorm = true, InitValues = 1f, DropPathRate = 0.3 };

    /// <summary>VRWKV-B: 93.7M params, 82.0 top-1. Post-norm, layer scale 1e-5, drop path 0.5.</summary>
    public static VrwkvConfig Base => new() { EmbedDims = 768, Depth = 12, PostNorm = true, InitValues = 1e-5f, DropPathRate = 0.5 };

    /// <summary>
    /// VRWKV-L: 334.9M params, 86.0 top-1 (IN-22K → 1K at 384). Built at 192 (144-token pos_embed), run at 384;
    /// key_norm, an MLP head (head.0 / head.2).
    /// </summary>
    public static VrwkvConfig Large => new()
    {
        ImgHeight = 192, ImgWidth = 192, EmbedDims = 1024, Depth = 24, PostNorm = true, InitValues = 1e-5f,
        KeyNorm = true, DropPathRate = 0.1, HeadHidden = 3072, Data = DataConfig.ImageNet(384) with { CropPct = 1.0f },
    };

    // ---- Small presets for small images, trainable on a laptop CPU ----

    /// <summary>
    /// 28x28 grayscale (Fashion-MNIST, MNIST): 4x4 patches → 7x7 tokens, 96 wide, 3 layers, 10 classes (0.37M params).
    /// Sized so that the main job trains several epochs within minutes on a 2-core CPU. (Overlapping 7x7 patches,
    /// <see cref="PatchKernel"/> = 7, gave no gain there: 89.66% against 89.81% test top-1 after 4 epochs.)
    /// </summary>
    public static VrwkvConfig Mini28 => new()
    {
        ImgHeight = 28, ImgWidth = 28, PatchSize = 4, InChannels = 1, EmbedDims = 96, Depth = 3, NumClasses = 10,
        Data = DataConfig.FashionMnist(),
    };

    /// <summary>
    /// 64x64 grayscale radiographs: 8x8 patches → 8x8 tokens, 96 wide, 4 layers. No crop (CropPct 1): findings sit at the
    /// image edges (costophrenic angles, apices). Mean/std for windowed DICOM values in [0,1].
    /// </summary>
    public static VrwkvConfig Mini64 => new()
    {
        ImgHeight = 64, ImgWidth = 64, PatchSize = 8, InChannels = 1, EmbedDims = 96, Depth = 4, NumClasses = 5,
        Data = new DataConfig(1, 64, 64, [0.35f], [0.2f], Datasets.Transforms.Interpolation.Bilinear, 1f),
    };

    /// <summary>32x32 RGB (CIFAR-like): 4x4 patches → 8x8 tokens, 192 wide, 8 layers, 10 classes.</summary>
    public static VrwkvConfig Mini32 => new()
    {
        ImgHeight = 32, ImgWidth = 32, PatchSize = 4, InChannels = 3, EmbedDims = 192, Depth = 8, NumClasses = 10,
        DropPathRate = 0.1, Data = DataConfig.Cifar(),
    };
}
