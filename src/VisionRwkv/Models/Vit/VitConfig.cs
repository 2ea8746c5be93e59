using VisionRwkv.Datasets;
namespace VisionRwkv.Models.Vit;

/// <summary>ViT/DeiT configuration with timm's names (the baseline Vision-RWKV is compared against).</summary>
public sealed record VitConfig
{
    public int ImgSize { get; init; } = 224;
    public int PatchSize { get; init; } = 16;
    public int InChannels { get; init; } = 3;
    public int EmbedDim { get; init; } = 192;
    public int Depth { get; init; } = 12;
    public int NumHeads { get; init; } = 3;
    public double MlpRatio { get; init; } = 4.0;
    public double DropPathRate { get; init; }
    public int NumClasses { get; init; } = 1000;
    public DataConfig Data { get; init; } = DataConfig.ImageNet();

    public int GridSize => ImgSize / PatchSize;

    /// <summary>DeiT-Tiny / timm vit_tiny_patch16_224: 5.7M params, 72.2 top-1 (DeiT).</summary>
    public static VitConfig Tiny => new() { EmbedDim = 192, Depth = 12, NumHeads = 3 };

    /// <summary>DeiT-Small: 22M params, 79.9 top-1.</summary>
    public static VitConfig Small => new() { EmbedDim = 384, Depth = 12, NumHeads = 6, DropPathRate = 0.1 };

    /// <summary>28x28 grayscale counterpart of VrwkvConfig.Mini28, for side-by-side runs.</summary>
    public static VitConfig Mini28 => new()
    {
        ImgSize = 28, PatchSize = 4, InChannels = 1, EmbedDim = 128, Depth = 6, NumHeads = 4, NumClasses = 10,
        DropPathRate = 0.05, Data = DataConfig.FashionMnist(),
    };
}
