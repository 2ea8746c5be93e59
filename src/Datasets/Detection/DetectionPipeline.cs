using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;
using VisionRwkv.Datasets;

namespace VisionRwkv.Datasets.Detection;

/// <summary>Detection training augmentation.</summary>
public sealed record DetectionAugmentConfig
{
    /// <summary>Scale jitter range, relative to the scale that fits the image into the input (1, 1 = plain letterbox).</summary>
    public (double Min, double Max) Scale { get; init; } = (0.5, 1.5);

    /// <summary>A cropped box is kept when at least this fraction of its area remains inside the crop.</summary>
    public double MinVisibility { get; init; } = 0.5;

    public double Hflip { get; init; } = 0.5;

    /// <summary>Boxes narrower or lower than this many input pixels after all steps are dropped.</summary>
    public double MinBoxSize { get; init; } = 2;

    public static DetectionAugmentConfig Default => new();

    /// <summary>No random geometry: letterbox only (for debugging).</summary>
    public static DetectionAugmentConfig None => new() { Scale = (1, 1), Hflip = 0 };
}

/// <summary>
/// Decode settings plus the per-sample steps that turn an image and its boxes into a model input of fixed [C,H,W] and
/// boxes in input pixels. Only pixel-value steps are reused from the classification transforms; every step that moves
/// pixels is a detection step that moves the boxes the same way.
/// </summary>
public sealed class DetectionPipeline(DecodeOptions decode, IReadOnlyList<IDetectionTransform> steps, int channels, int height, int width, double minBoxSize = 1)
{
    public DecodeOptions Decode { get; } = decode;

    public IReadOnlyList<IDetectionTransform> Steps { get; } = steps;

    public int Channels { get; } = channels;

    public int Height { get; } = height;

    public int Width { get; } = width;

    public double MinBoxSize { get; } = minBoxSize;

    /// <summary>Runs every step, then clips boxes to the input and drops those smaller than <see cref="MinBoxSize"/>.</summary>
    public DetectionSample Apply(DetectionSample sample, SeededRng rng)
    {
        foreach (var step in Steps)
            sample = step.Apply(sample, rng);
        var img = sample.Image;
        if (img.Channels != Channels || img.Height != Height || img.Width != Width)
            throw new InvalidOperationException($"Detection pipeline produced {img.Channels}x{img.Height}x{img.Width}, expected {Channels}x{Height}x{Width}.");
        var kept = sample.Objects.Select(o => o with { Box = o.Box.Clip(Width, Height) })
            .Where(o => o.Box.Width >= MinBoxSize && o.Box.Height >= MinBoxSize).ToArray();
        return sample.With(img, kept, sample.Map);
    }

    /// <summary>Training: channels, scale jitter + crop (or letterbox), horizontal flip, normalisation. Pads are the mean, so 0 after normalising.</summary>
    public static DetectionPipeline Train(DataConfig data, DetectionAugmentConfig augment)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(augment);
        data.Validate();
        var steps = new List<IDetectionTransform> { new PixelStep(new ToChannels(data.Channels)) };
        if (augment.Scale == (1, 1))
            steps.Add(new LetterboxResize(data.Height, data.Width, data.Interpolation, data.Mean));
        else
            steps.Add(new RandomScaleCrop(data.Height, data.Width, augment.Scale.Min, augment.Scale.Max, augment.MinVisibility, data.Interpolation, data.Mean));
        if (augment.Hflip > 0)
            steps.Add(new RandomHorizontalFlip(augment.Hflip));
        steps.Add(new PixelStep(new Normalize(data.Mean, data.Std)));
        return new DetectionPipeline(DecodeOptions.Default, steps, data.Channels, data.Height, data.Width, augment.MinBoxSize);
    }

    /// <summary>Evaluation: channels, letterbox resize + pad, normalisation; deterministic.</summary>
    public static DetectionPipeline Eval(DataConfig data)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.Validate();
        IDetectionTransform[] steps =
        [
            new PixelStep(new ToChannels(data.Channels)),
            new LetterboxResize(data.Height, data.Width, data.Interpolation, data.Mean),
            new PixelStep(new Normalize(data.Mean, data.Std)),
        ];
        return new DetectionPipeline(DecodeOptions.Default, steps, data.Channels, data.Height, data.Width, 0);
    }
}
