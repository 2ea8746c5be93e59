using VisionRwkv.Datasets.Transforms;

namespace VisionRwkv.Datasets;

/// <summary>
/// What a model expects as input (timm's <c>pretrained_cfg</c> data part): channels, size, normalisation, resize
/// interpolation and the eval crop fraction. Every model preset carries one and the data pipeline reads the same record
/// to build its train and eval transforms, so a mean or a size is written down once, in the model registry.
/// </summary>
/// <param name="Channels">1 for grayscale (X-rays, Fashion-MNIST), 3 for RGB.</param>
/// <param name="Height">Native input height in pixels.</param>
/// <param name="Width">Native input width in pixels.</param>
/// <param name="Mean">Per-channel mean of pixels scaled to [0,1].</param>
/// <param name="Std">Per-channel standard deviation of pixels scaled to [0,1].</param>
/// <param name="Interpolation">Resampling filter for resizes.</param>
/// <param name="CropPct">Eval: resize the shorter side to size / CropPct, then center-crop to size (1 = no margin).</param>
public sealed record DataConfig(
    int Channels,
    int Height,
    int Width,
    float[] Mean,
    float[] Std,
    Interpolation Interpolation = Interpolation.Bicubic,
    float CropPct = 0.875f)
{
    /// <summary>ImageNet-1k RGB, bicubic, crop 0.875 (timm's default <c>_cfg</c>; mmcls uses the same statistics on 0..255).</summary>
    public static DataConfig ImageNet(int size = 224) =>
        new(3, size, size, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], Interpolation.Bicubic, 0.875f);

    /// <summary>Fashion-MNIST: one channel at 28×28, no eval crop; mean/std of its training set.</summary>
    public static DataConfig FashionMnist() => new(1, 28, 28, [0.2860f], [0.3530f], Interpolation.Bilinear, 1f);

    /// <summary>CIFAR-style 32×32 RGB.</summary>
    public static DataConfig Cifar() =>
        new(3, 32, 32, [0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f], Interpolation.Bilinear, 1f);

    /// <summary>A square input of <paramref name="size"/> with everything else kept.</summary>
    public DataConfig WithSize(int size) => this with { Height = size, Width = size };

    /// <summary>The shorter side the eval path resizes to before its center crop: floor(size / CropPct), as timm does.</summary>
    public int EvalResizeShorterSide => (int)Math.Floor(Math.Max(Height, Width) / CropPct);

    /// <summary>Checks lengths and ranges; throws with the field that is wrong.</summary>
    public void Validate()
    {
        if (Channels is not (1 or 3))
            throw new ArgumentException($"DataConfig.Channels must be 1 or 3, got {Channels}.");
        if (Height <= 0 || Width <= 0)
            throw new ArgumentException($"DataConfig size must be positive, got {Height}x{Width}.");
        if (Mean.Length != Channels || Std.Length != Channels)
            throw new ArgumentException($"DataConfig.Mean and Std need {Channels} values, got {Mean.Length} and {Std.Length}.");
        if (Std.Any(s => s <= 0))
            throw new ArgumentException("DataConfig.Std values must be positive.");
        if (CropPct is <= 0 or > 1)
            throw new ArgumentException($"DataConfig.CropPct must be in (0, 1], got {CropPct}.");
    }
}
