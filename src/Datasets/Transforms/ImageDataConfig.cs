namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// What a model expects as input (timm's <c>pretrained_cfg</c> data part): channels, size, normalisation, interpolation and
/// the eval crop fraction. The model registry owns these values; this project never hard-codes a mean or std elsewhere.
/// </summary>
public sealed record ImageDataConfig(
    int Channels,
    int Height,
    int Width,
    float[] Mean,
    float[] Std,
    Interpolation Interpolation,
    float CropPct) // eval: resize the shorter side to size / CropPct, then center-crop to size
{
    /// <summary>ImageNet-1k RGB at 224, bicubic, crop 0.875 (timm's default <c>_cfg</c>).</summary>
    public static ImageDataConfig ImageNet => new(3, 224, 224, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], Interpolation.Bicubic, 0.875f);

    /// <summary>Fashion-MNIST: one channel at 28×28, no eval crop; mean/std of the training set.</summary>
    public static ImageDataConfig FashionMnist => new(1, 28, 28, [0.2860f], [0.3530f], Interpolation.Bilinear, 1f);

    /// <summary>A square input of <paramref name="size"/> with everything else kept.</summary>
    public ImageDataConfig WithSize(int size) => this with { Height = size, Width = size };

    /// <summary>The shorter side the eval path resizes to before its center crop: floor(size / CropPct), as timm does.</summary>
    public int EvalResizeShorterSide => (int)Math.Floor(Math.Max(Height, Width) / CropPct);

    /// <summary>Checks lengths and ranges; throws with the field that is wrong.</summary>
    public void Validate()
    {
        if (Channels is not (1 or 3))
            throw new ArgumentException($"ImageDataConfig.Channels must be 1 or 3, got {Channels}.");
        if (Height <= 0 || Width <= 0)
            throw new ArgumentException($"ImageDataConfig size must be positive, got {Height}x{Width}.");
        if (Mean.Length != Channels || Std.Length != Channels)
            throw new ArgumentException($"ImageDataConfig.Mean and Std need {Channels} values, got {Mean.Length} and {Std.Length}.");
        if (Std.Any(s => s <= 0))
            throw new ArgumentException("ImageDataConfig.Std values must be positive.");
        if (CropPct is <= 0 or > 1)
            throw new ArgumentException($"ImageDataConfig.CropPct must be in (0, 1], got {CropPct}.");
    }
}

/// <summary>Training augmentation settings, named after timm's <c>train.py</c> flags; defaults are timm's defaults.</summary>
public sealed record AugmentConfig
{
    /// <summary>RandomResizedCrop area fraction range (<c>--scale</c>).</summary>
    public (double Min, double Max) Scale { get; init; } = (0.08, 1.0);

    /// <summary>RandomResizedCrop aspect ratio range (<c>--ratio</c>).</summary>
    public (double Min, double Max) Ratio { get; init; } = (3.0 / 4.0, 4.0 / 3.0);

    /// <summary>Horizontal flip probability (<c>--hflip</c>).</summary>
    public double HFlip { get; init; } = 0.5;

    /// <summary>Vertical flip probability (<c>--vflip</c>); useful for X-rays rarely, for microscopy often.</summary>
    public double VFlip { get; init; }

    /// <summary>Brightness/contrast/saturation jitter strength (<c>--color-jitter</c>); used only without AutoAugment, as in timm.</summary>
    public double ColorJitter { get; init; } = 0.4;

    /// <summary>RandAugment policy string such as <c>rand-m9-mstd0.5</c> (<c>--aa</c>); null for none.</summary>
    public string? AutoAugment { get; init; }

    /// <summary>Random erasing probability (<c>--reprob</c>), pixel mode, applied after normalisation.</summary>
    public double ReProb { get; init; }

    /// <summary>Mixup Beta alpha (<c>--mixup</c>); 0 disables.</summary>
    public double MixupAlpha { get; init; }

    /// <summary>CutMix Beta alpha (<c>--cutmix</c>); 0 disables.</summary>
    public double CutmixAlpha { get; init; }

    /// <summary>Probability that a batch is mixed at all (<c>--mixup-prob</c>).</summary>
    public double MixupProb { get; init; } = 1.0;

    /// <summary>Probability of CutMix instead of Mixup when both are on (<c>--mixup-switch-prob</c>).</summary>
    public double MixupSwitchProb { get; init; } = 0.5;

    /// <summary>Label smoothing folded into the mixed soft targets (<c>--smoothing</c>).</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>timm's defaults: RandomResizedCrop, horizontal flip, colour jitter 0.4.</summary>
    public static AugmentConfig Default => new();

    /// <summary>No random augmentation beyond the crop: useful for debugging and for small, centred data (MNIST-like).</summary>
    public static AugmentConfig Minimal => new() { Scale = (1.0, 1.0), Ratio = (1.0, 1.0), HFlip = 0, ColorJitter = 0, LabelSmoothing = 0 };

    /// <summary>The common "strong" recipe: RandAugment m9, random erasing 0.25, mixup 0.8, cutmix 1.0.</summary>
    public static AugmentConfig Strong => new() { AutoAugment = "rand-m9-mstd0.5", ReProb = 0.25, MixupAlpha = 0.8, CutmixAlpha = 1.0 };

    public bool MixesBatches => (MixupAlpha > 0 || CutmixAlpha > 0) && MixupProb > 0;
}
