namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// Training augmentation settings, named after timm's <c>train.py</c> flags; defaults are timm's defaults. Mixup and
/// CutMix are batch augmentations and live here too: the loader applies them (once, seeded per batch); label smoothing
/// is a loss setting and lives in the training config only.
/// </summary>
public sealed record AugmentConfig
{
    /// <summary>RandomResizedCrop area fraction range (<c>--scale</c>).</summary>
    public (double Min, double Max) Scale { get; init; } = (0.08, 1.0);

    /// <summary>RandomResizedCrop aspect ratio range (<c>--ratio</c>).</summary>
    public (double Min, double Max) Ratio { get; init; } = (3.0 / 4.0, 4.0 / 3.0);

    /// <summary>Horizontal flip probability (<c>--hflip</c>).</summary>
    public double Hflip { get; init; } = 0.5;

    /// <summary>Vertical flip probability (<c>--vflip</c>); useful for X-rays rarely, for microscopy often.</summary>
    public double Vflip { get; init; }

    /// <summary>Brightness/contrast/saturation jitter strength (<c>--color-jitter</c>); used only without AutoAugment, as in timm.</summary>
    public double ColorJitter { get; init; } = 0.4;

    /// <summary>RandAugment policy string such as <c>rand-m9-mstd0.5</c> (<c>--aa</c>); null for none.</summary>
    public string? AutoAugment { get; init; }

    /// <summary>Random erasing probability (<c>--reprob</c>), pixel mode, applied after normalisation.</summary>
    public double Reprob { get; init; }

    /// <summary>Mixup Beta alpha (<c>--mixup</c>); 0 disables.</summary>
    public double MixupAlpha { get; init; }

    /// <summary>CutMix Beta alpha (<c>--cutmix</c>); 0 disables.</summary>
    public double CutmixAlpha { get; init; }

    /// <summary>Probability that a batch is mixed at all (<c>--mixup-prob</c>).</summary>
    public double MixupProb { get; init; } = 1.0;

    /// <summary>Probability of CutMix instead of Mixup when both are on (<c>--mixup-switch-prob</c>).</summary>
    public double MixupSwitchProb { get; init; } = 0.5;

    /// <summary>timm's defaults: RandomResizedCrop, horizontal flip, colour jitter 0.4.</summary>
    public static AugmentConfig Default => new();

    /// <summary>No random augmentation beyond the crop: useful for debugging and for small, centred data (MNIST-like).</summary>
    public static AugmentConfig Minimal => new() { Scale = (1.0, 1.0), Ratio = (1.0, 1.0), Hflip = 0, ColorJitter = 0 };

    /// <summary>The common "strong" recipe: RandAugment m9, random erasing 0.25, mixup 0.8, cutmix 1.0.</summary>
    public static AugmentConfig Strong => new() { AutoAugment = "rand-m9-mstd0.5", Reprob = 0.25, MixupAlpha = 0.8, CutmixAlpha = 1.0 };

    public bool MixesBatches => (MixupAlpha > 0 || CutmixAlpha > 0) && MixupProb > 0;

    /// <summary>Checks ranges; throws naming the setting that is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException("Invalid augmentation: " + message);
        }
        Check(Scale.Min > 0 && Scale.Min <= Scale.Max && Scale.Max <= 1, $"scale must satisfy 0 < min <= max <= 1 (got [{Scale.Min}, {Scale.Max}]).");
        Check(Ratio.Min > 0 && Ratio.Min <= Ratio.Max, $"ratio must satisfy 0 < min <= max (got [{Ratio.Min}, {Ratio.Max}]).");
        Check(Hflip is >= 0 and <= 1 && Vflip is >= 0 and <= 1, "hflip and vflip must be probabilities.");
        Check(ColorJitter >= 0, "color_jitter must be >= 0.");
        Check(Reprob is >= 0 and <= 1, "reprob must be a probability.");
        Check(MixupAlpha >= 0 && CutmixAlpha >= 0, "mixup_alpha and cutmix_alpha must be >= 0.");
        Check(MixupProb is >= 0 and <= 1 && MixupSwitchProb is >= 0 and <= 1, "mixup_prob and mixup_switch_prob must be probabilities.");
    }
}
