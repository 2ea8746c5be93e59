using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// Makes the channel count what the model takes: RGB to one channel by ITU-R 601 luma, or grey replicated to three.
/// </summary>
public sealed class ToChannels(int channels) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng) => Convert(image, channels);

    public static ImageBuffer Convert(ImageBuffer image, int channels)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Channels == channels)
            return image;
        var plane = image.PlaneSize;
        var dst = new ImageBuffer(channels, image.Height, image.Width);
        if (channels == 1 && image.Channels == 3)
        {
            var d = dst.Data;
            var s = image.Data;
            for (var i = 0; i < plane; i++)
                d[i] = 0.299f * s[i] + 0.587f * s[plane + i] + 0.114f * s[2 * plane + i];
        }
        else if (channels == 3 && image.Channels == 1)
        {
            for (var c = 0; c < 3; c++)
                image.Data.AsSpan(0, plane).CopyTo(dst.Data.AsSpan(c * plane, plane));
        }
        else
        {
            throw new ArgumentException($"Cannot convert {image.Channels} channels to {channels}.");
        }
        return dst;
    }
}

/// <summary>(x - mean) / std per channel, in place.</summary>
public sealed class Normalize(float[] mean, float[] std) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (mean.Length != image.Channels || std.Length != image.Channels)
            throw new ArgumentException($"Normalize has {mean.Length} means for a {image.Channels}-channel image.");
        for (var c = 0; c < image.Channels; c++)
        {
            var p = image.Plane(c);
            float m = mean[c], inv = 1f / std[c];
            for (var i = 0; i < p.Length; i++)
                p[i] = (p[i] - m) * inv;
        }
        return image;
    }
}

/// <summary>
/// torchvision ColorJitter without hue: brightness, contrast and saturation factors drawn uniformly from
/// [1 - strength, 1 + strength], applied in a random order, each result clamped to [0, 1].
/// </summary>
public sealed class ColorJitter(double brightness, double contrast, double saturation) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(rng);
        var order = rng.Permutation(3);
        foreach (var op in order)
        {
            var strength = op switch { 0 => brightness, 1 => contrast, _ => saturation };
            if (strength <= 0)
                continue;
            var f = (float)rng.Uniform(Math.Max(0, 1 - strength), 1 + strength);
            switch (op)
            {
                case 0:
                    PixelOps.Blend(image, 0f, f);
                    break;
                case 1:
                    PixelOps.Blend(image, PixelOps.MeanLuma(image), f);
                    break;
                default:
                    PixelOps.BlendWithGray(image, f);
                    break;
            }
        }
        return image;
    }
}

/// <summary>
/// timm RandomErasing in pixel mode: with probability <paramref name="probability"/>, one rectangle of 2%-33% of the area
/// with aspect ratio in [0.3, 1/0.3] (log-uniform), filled with standard normal noise. Runs after normalisation.
/// </summary>
public sealed class RandomErasing(double probability) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(rng);
        if (!rng.Chance(probability))
            return image;
        int H = image.Height, W = image.Width;
        double area = H * W, logLo = Math.Log(0.3), logHi = Math.Log(1 / 0.3);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var target = rng.Uniform(0.02, 1.0 / 3.0) * area;
            var aspect = Math.Exp(rng.Uniform(logLo, logHi));
            var h = (int)Math.Round(Math.Sqrt(target * aspect));
            var w = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w < W && h < H && w > 0 && h > 0)
            {
                var top = rng.NextInt(0, H - h);
                var left = rng.NextInt(0, W - w);
                for (var c = 0; c < image.Channels; c++)
                {
                    for (var y = top; y < top + h; y++)
                    {
                        for (var x = left; x < left + w; x++)
                            image[c, y, x] = (float)rng.NextGaussian();
                    }
                }
                break;
            }
        }
        return image;
    }
}

/// <summary>Shared pixel arithmetic (Pillow ImageEnhance semantics on [0, 1] floats).</summary>
internal static class PixelOps
{
    /// <summary>image = clamp(degenerate + f * (image - degenerate)) with a constant degenerate value.</summary>
    public static void Blend(ImageBuffer image, float degenerate, float f)
    {
        var d = image.Data;
        for (var i = 0; i < d.Length; i++)
            d[i] = Math.Clamp(degenerate + f * (d[i] - degenerate), 0f, 1f);
    }

    /// <summary>Blend with a per-pixel degenerate image of the same shape.</summary>
    public static void Blend(ImageBuffer image, float[] degenerate, float f)
    {
        var d = image.Data;
        for (var i = 0; i < d.Length; i++)
            d[i] = Math.Clamp(degenerate[i] + f * (d[i] - degenerate[i]), 0f, 1f);
    }

    /// <summary>Saturation: blend every channel with the pixel's luma (no-op for one channel).</summary>
    public static void BlendWithGray(ImageBuffer image, float f)
    {
        if (image.Channels != 3)
            return;
        var plane = image.PlaneSize;
        var d = image.Data;
        for (var i = 0; i < plane; i++)
        {
            var g = 0.299f * d[i] + 0.587f * d[plane + i] + 0.114f * d[2 * plane + i];
            for (var c = 0; c < 3; c++)
                d[c * plane + i] = Math.Clamp(g + f * (d[c * plane + i] - g), 0f, 1f);
        }
    }

    public static float MeanLuma(ImageBuffer image)
    {
        var plane = image.PlaneSize;
        var d = image.Data;
        double sum = 0;
        if (image.Channels == 3)
        {
            for (var i = 0; i < plane; i++)
                sum += 0.299f * d[i] + 0.587f * d[plane + i] + 0.114f * d[2 * plane + i];
        }
        else
        {
            for (var i = 0; i < plane; i++)
                sum += d[i];
        }
        return (float)(sum / plane);
    }
}
