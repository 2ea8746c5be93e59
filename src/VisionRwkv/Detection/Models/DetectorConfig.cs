using VisionRwkv.Models;

namespace VisionRwkv.Detection.Models;

/// <summary>
/// A Vision-RWKV detector: the plain backbone, a ViTDet-style simple feature pyramid built from its single token map,
/// and an FCOS head shared by every level. Scales are relative to the backbone's patch stride (ViTDet on a stride-16
/// ViT uses 4, 2, 1, 0.5 for strides 4..32); the defaults follow mmdet's FCOS (GIoU, centerness on the regression
/// branch, centre sampling, distances normalised by the stride).
/// </summary>
public sealed record DetectorConfig
{
    /// <summary>The backbone (its <see cref="VrwkvConfig.NumClasses"/> is ignored: no classification head is built).</summary>
    public VrwkvConfig Backbone { get; init; } = VrwkvConfig.Tiny;

    /// <summary>Object classes (the head's sigmoid outputs; background is "no class fires").</summary>
    public int NumClasses { get; init; } = 80;

    /// <summary>
    /// Pyramid levels as scale factors of the token map, finest first: 4 and 2 by transposed convolutions, 1 as it is,
    /// 0.5 and 0.25 by max pooling.
    /// </summary>
    public IReadOnlyList<double> PyramidScales { get; init; } = [2, 1, 0.5];

    /// <summary>Channels of every pyramid level and of the head's convolutions.</summary>
    public int PyramidChannels { get; init; } = 128;

    /// <summary>3x3 conv + GroupNorm + ReLU layers in each head branch (FCOS uses 4; fewer for small CPU models).</summary>
    public int HeadConvs { get; init; } = 2;

    /// <summary>
    /// Boundaries between levels on max(l,t,r,b) of a location's regression target, in input pixels (one fewer than
    /// the levels); null = FCOS's rule, 8 × the stride of each level but the last (64, 128, 256, 512 at strides 8..64).
    /// </summary>
    public IReadOnlyList<double>? RegressRanges { get; init; }

    /// <summary>Centre sampling: a location is a positive only within this many strides of its box's centre (FCOS+: 1.5).</summary>
    public double CenterSampleRadius { get; init; } = 1.5;

    /// <summary>Sigmoid focal loss α and γ (RetinaNet/FCOS: 0.25, 2).</summary>
    public double FocalAlpha { get; init; } = 0.25;

    public double FocalGamma { get; init; } = 2;

    /// <summary>Weight of the GIoU term (mmdet FCOS: 1).</summary>
    public double BoxLossWeight { get; init; } = 1;

    /// <summary>Initial probability of every class at every location (RetinaNet's prior 0.01 keeps the focal loss sane at step 0).</summary>
    public double PriorProbability { get; init; } = 0.01;

    /// <summary>Strides of the levels in input pixels (patch size / scale).</summary>
    public double[] Strides => [.. PyramidScales.Select(s => Backbone.PatchSize / s)];

    /// <summary>Boundaries of the levels' regression ranges: [lo, hi) per level.</summary>
    public (double Lo, double Hi)[] LevelRanges()
    {
        var strides = Strides;
        var bounds = RegressRanges?.ToArray() ?? [.. strides.Take(strides.Length - 1).Select(s => 8 * s)];
        if (bounds.Length != strides.Length - 1)
            throw new ArgumentException($"regress_ranges needs {strides.Length - 1} boundaries for {strides.Length} pyramid levels, got {bounds.Length}");
        for (var i = 1; i < bounds.Length; i++)
            if (!(bounds[i] > bounds[i - 1]))
                throw new ArgumentException($"regress_ranges must increase, got [{string.Join(", ", bounds)}]");
        var ranges = new (double, double)[strides.Length];
        for (var i = 0; i < strides.Length; i++)
            ranges[i] = (i == 0 ? -1 : bounds[i - 1], i == strides.Length - 1 ? double.PositiveInfinity : bounds[i]);
        return ranges;
    }

    /// <summary>Checks what the constructor would otherwise fail on later, with the setting's name.</summary>
    public void Validate()
    {
        if (NumClasses < 1) throw new ArgumentException($"num_classes must be at least 1, got {NumClasses}");
        if (PyramidScales.Count == 0) throw new ArgumentException("pyramid_scales is empty");
        foreach (var s in PyramidScales)
            if (s is not (4 or 2 or 1 or 0.5 or 0.25))
                throw new ArgumentException($"pyramid scale {s}: one of 4, 2, 1, 0.5, 0.25");
        for (var i = 1; i < PyramidScales.Count; i++)
            if (!(PyramidScales[i] < PyramidScales[i - 1]))
                throw new ArgumentException("pyramid_scales must go from fine to coarse (decreasing)");
        if (PyramidChannels < 8 || PyramidChannels % GroupNormGroups(PyramidChannels) != 0)
            throw new ArgumentException($"pyramid_channels must be at least 8, got {PyramidChannels}");
        if (HeadConvs < 0) throw new ArgumentException("head_convs must be >= 0");
        _ = LevelRanges();
    }

    /// <summary>GroupNorm groups for a width: 32 as in FCOS where it divides, else the largest divisor up to 32.</summary>
    internal static int GroupNormGroups(int channels)
    {
        for (var g = Math.Min(32, channels); g > 1; g--)
            if (channels % g == 0) return g;
        return 1;
    }
}
