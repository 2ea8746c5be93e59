using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>Resizes so that the shorter side equals <see cref="Size"/>, keeping the aspect ratio (torchvision <c>Resize(int)</c>).</summary>
public sealed class ResizeShorterSide(int size, Interpolation interpolation) : IImageTransform
{
    public int Size { get; } = size;

    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (h, w) = image.Height <= image.Width
            ? (Size, (int)((long)Size * image.Width / image.Height))
            : ((int)((long)Size * image.Height / image.Width), Size);
        return Resampler.Resize(image, h, w, interpolation);
    }
}

/// <summary>
/// timm's eval geometry in one step: resize (the shorter side to <paramref name="resizeShorterSide"/>, or to exactly
/// <paramref name="resizeHeight"/> × <paramref name="resizeWidth"/> when those are given) and take the central
/// <paramref name="cropHeight"/> × <paramref name="cropWidth"/>, computing only the pixels the crop keeps. Equal to
/// <see cref="ResizeShorterSide"/> or <see cref="ResizeExact"/> followed by <see cref="CenterCrop"/> (a test checks it).
/// </summary>
public sealed class ResizeCenterCrop(int resizeShorterSide, int resizeHeight, int resizeWidth, int cropHeight, int cropWidth,
    Interpolation interpolation) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        int h, w;
        if (resizeShorterSide > 0)
        {
            (h, w) = image.Height <= image.Width
                ? (resizeShorterSide, (int)((long)resizeShorterSide * image.Width / image.Height))
                : ((int)((long)resizeShorterSide * image.Height / image.Width), resizeShorterSide);
        }
        else
        {
            (h, w) = (resizeHeight, resizeWidth);
        }
        var top = (int)Math.Round((h - cropHeight) / 2.0, MidpointRounding.ToEven);
        var left = (int)Math.Round((w - cropWidth) / 2.0, MidpointRounding.ToEven);
        if (top < 0 || left < 0)
            return new CenterCrop(cropHeight, cropWidth).Apply(Resampler.Resize(image, h, w, interpolation), rng);
        return Resampler.ResizeWindow(image, h, w, interpolation, 0, 0, image.Width, image.Height, left, top, cropWidth, cropHeight);
    }
}

/// <summary>Resizes to exactly <paramref name="height"/> × <paramref name="width"/>.</summary>
public sealed class ResizeExact(int height, int width, Interpolation interpolation) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng) => Resampler.Resize(image, height, width, interpolation);
}

/// <summary>The central <paramref name="height"/> × <paramref name="width"/> window; zero padding where the image is smaller.</summary>
public sealed class CenterCrop(int height, int width) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Height == height && image.Width == width)
            return image;
        // torchvision: top = round((H - h) / 2), left = round((W - w) / 2), negative offsets pad.
        var top = (int)Math.Round((image.Height - height) / 2.0, MidpointRounding.ToEven);
        var left = (int)Math.Round((image.Width - width) / 2.0, MidpointRounding.ToEven);
        if (top >= 0 && left >= 0)
            return Resampler.Crop(image, left, top, width, height);
        var dst = new ImageBuffer(image.Channels, height, width);
        for (var c = 0; c < image.Channels; c++)
        {
            for (var y = 0; y < height; y++)
            {
                var sy = y + top;
                if (sy < 0 || sy >= image.Height)
                    continue;
                for (var x = 0; x < width; x++)
                {
                    var sx = x + left;
                    if (sx >= 0 && sx < image.Width)
                        dst[c, y, x] = image[c, sy, sx];
                }
            }
        }
        return dst;
    }
}

/// <summary>
/// torchvision/timm RandomResizedCrop: a random window covering a fraction <c>scale</c> of the area with an aspect ratio
/// in <c>ratio</c> (log-uniform), ten tries, else a center crop clamped to the ratio range; then resized to the output size.
/// </summary>
public sealed class RandomResizedCrop(int height, int width, (double Min, double Max) scale, (double Min, double Max) ratio,
    Interpolation interpolation) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(rng);
        var (x, y, w, h) = SampleWindow(image.Height, image.Width, rng);
        return Resampler.Resize(image, height, width, interpolation, x, y, w, h);
    }

    internal (int X, int Y, int W, int H) SampleWindow(int imageHeight, int imageWidth, SeededRng rng)
    {
        double area = (double)imageHeight * imageWidth;
        double logLo = Math.Log(ratio.Min), logHi = Math.Log(ratio.Max);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var target = area * rng.Uniform(scale.Min, scale.Max);
            var aspect = Math.Exp(rng.Uniform(logLo, logHi));
            var w = (int)Math.Round(Math.Sqrt(target * aspect));
            var h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && h > 0 && w <= imageWidth && h <= imageHeight)
                return (rng.NextInt(0, imageWidth - w), rng.NextInt(0, imageHeight - h), w, h);
        }
        var inRatio = (double)imageWidth / imageHeight;
        int fw, fh;
        if (inRatio < ratio.Min)
        {
            fw = imageWidth;
            fh = Math.Max(1, (int)Math.Round(fw / ratio.Min));
        }
        else if (inRatio > ratio.Max)
        {
            fh = imageHeight;
            fw = Math.Max(1, (int)Math.Round(fh * ratio.Max));
        }
        else
        {
            fw = imageWidth;
            fh = imageHeight;
        }
        fw = Math.Min(fw, imageWidth);
        fh = Math.Min(fh, imageHeight);
        return ((imageWidth - fw) / 2, (imageHeight - fh) / 2, fw, fh);
    }
}

/// <summary>Mirrors left-right (or top-bottom when <paramref name="vertical"/>) with probability <paramref name="p"/>, in place.</summary>
public sealed class RandomFlip(double p, bool vertical) : IImageTransform
{
    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (rng.Chance(p))
            Flip(image, vertical);
        return image;
    }

    /// <summary>Flips in place; applying it twice restores the image.</summary>
    public static void Flip(ImageBuffer image, bool vertical)
    {
        ArgumentNullException.ThrowIfNull(image);
        int h = image.Height, w = image.Width;
        for (var c = 0; c < image.Channels; c++)
        {
            var plane = image.Plane(c);
            if (vertical)
            {
                for (var y = 0; y < h / 2; y++)
                {
                    var a = plane.Slice(y * w, w);
                    var b = plane.Slice((h - 1 - y) * w, w);
                    for (var x = 0; x < w; x++)
                        (a[x], b[x]) = (b[x], a[x]);
                }
            }
            else
            {
                for (var y = 0; y < h; y++)
                    plane.Slice(y * w, w).Reverse();
            }
        }
    }
}
