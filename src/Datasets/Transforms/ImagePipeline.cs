using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Common;
using VisionRwkv.Datasets;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// Decode settings plus the per-sample steps that turn a decoded image into a model input of a fixed [C,H,W], built from
/// an <see cref="DataConfig"/> the way timm's <c>create_transform</c> does.
/// </summary>
public sealed class ImagePipeline
{
    public ImagePipeline(DecodeOptions decode, IReadOnlyList<IImageTransform> steps, int channels, int height, int width)
    {
        Decode = decode;
        Steps = steps;
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>How files are decoded for this pipeline, including the reduced-scale hint.</summary>
    public DecodeOptions Decode { get; }

    public IReadOnlyList<IImageTransform> Steps { get; }

    public int Channels { get; }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Runs every step; the result always has the pipeline's output shape.</summary>
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        foreach (var step in Steps)
            image = step.Apply(image, rng);
        if (image.Channels != Channels || image.Height != Height || image.Width != Width)
            throw new InvalidOperationException(
                $"Pipeline produced {image.Channels}x{image.Height}x{image.Width}, expected {Channels}x{Height}x{Width}.");
        return image;
    }

    /// <summary>
    /// timm's train transform: RandomResizedCrop, flips, then RandAugment when a policy is set or else colour jitter,
    /// normalisation, random erasing. Decoding asks for a shorter side of at least the output size, so large JPEGs are
    /// DCT-reduced down to roughly the resolution the crop is resized to.
    /// </summary>
    public static ImagePipeline Train(DataConfig data, AugmentConfig augment, DecodeOptions? decode = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(augment);
        data.Validate();
        var steps = new List<IImageTransform>
        {
            new ToChannels(data.Channels),
            new RandomResizedCrop(data.Height, data.Width, augment.Scale, augment.Ratio, data.Interpolation),
        };
        if (augment.Hflip > 0)
            steps.Add(new RandomFlip(augment.Hflip, vertical: false));
        if (augment.Vflip > 0)
            steps.Add(new RandomFlip(augment.Vflip, vertical: true));
        if (!string.IsNullOrEmpty(augment.AutoAugment))
            steps.Add(RandAugment.Parse(augment.AutoAugment, data.Mean));
        else if (augment.ColorJitter > 0)
            steps.Add(new ColorJitter(augment.ColorJitter, augment.ColorJitter, augment.ColorJitter));
        steps.Add(new Normalize(data.Mean, data.Std));
        if (augment.Reprob > 0)
            steps.Add(new RandomErasing(augment.Reprob));
        var options = (decode ?? DecodeOptions.Default) with { MinShorterSide = Math.Max(data.Height, data.Width) };
        return new ImagePipeline(options, steps, data.Channels, data.Height, data.Width);
    }

    /// <summary>
    /// timm's eval transform: resize to floor(size / crop_pct) (the shorter side for square inputs), center crop, normalise.
    /// Decoding asks for that shorter side, so a 6-megapixel JPEG is decoded at 1/4 or 1/8 scale.
    /// </summary>
    public static ImagePipeline Eval(DataConfig data, DecodeOptions? decode = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.Validate();
        var steps = new List<IImageTransform> { new ToChannels(data.Channels) };
        int resizeH = (int)Math.Floor(data.Height / data.CropPct), resizeW = (int)Math.Floor(data.Width / data.CropPct);
        // Resize then center crop, fused so that only the kept pixels are computed.
        steps.Add(data.Height == data.Width
            ? new ResizeCenterCrop(resizeH, 0, 0, data.Height, data.Width, data.Interpolation)
            : new ResizeCenterCrop(0, resizeH, resizeW, data.Height, data.Width, data.Interpolation));
        steps.Add(new Normalize(data.Mean, data.Std));
        var options = (decode ?? DecodeOptions.Default) with { MinShorterSide = Math.Max(resizeH, resizeW) };
        return new ImagePipeline(options, steps, data.Channels, data.Height, data.Width);
    }
}
