using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Detection;

/// <summary>
/// Where a point of the original image is now: x' = ScaleX·x + OffsetX (a negative scale is a mirror). Transforms
/// compose it, so predictions made on the transformed image map back to the original with <see cref="Invert"/>.
/// </summary>
public readonly record struct AffineMap(double ScaleX, double ScaleY, double OffsetX, double OffsetY)
{
    public static AffineMap Identity => new(1, 1, 0, 0);

    /// <summary>This map followed by x'' = sx·x' + dx, y'' = sy·y' + dy.</summary>
    public AffineMap Then(double sx, double sy, double dx, double dy) => new(sx * ScaleX, sy * ScaleY, sx * OffsetX + dx, sy * OffsetY + dy);

    public BoundingBox Apply(BoundingBox b) => b.Affine(ScaleX, ScaleY, OffsetX, OffsetY);

    /// <summary>A box in transformed coordinates back in original ones.</summary>
    public BoundingBox Invert(BoundingBox b) => b.Affine(1 / ScaleX, 1 / ScaleY, -OffsetX / ScaleX, -OffsetY / ScaleY);
}

/// <summary>An image with its objects as it moves through the detection transforms; boxes are in the image's current pixels.</summary>
public sealed class DetectionSample(ImageBuffer image, IReadOnlyList<DetectionObject> objects, AffineMap map, int originalWidth, int originalHeight)
{
    public ImageBuffer Image { get; } = image;

    public IReadOnlyList<DetectionObject> Objects { get; } = objects;

    /// <summary>Original pixel coordinates -> current ones.</summary>
    public AffineMap Map { get; } = map;

    public int OriginalWidth { get; } = originalWidth;

    public int OriginalHeight { get; } = originalHeight;

    public static DetectionSample FromOriginal(ImageBuffer image, IReadOnlyList<DetectionObject> objects)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new(image, objects, AffineMap.Identity, image.Width, image.Height);
    }

    public DetectionSample With(ImageBuffer image, IReadOnlyList<DetectionObject> objects, AffineMap map) => new(image, objects, map, OriginalWidth, OriginalHeight);
}

/// <summary>One per-sample step that may move pixels and must move the boxes with them. Randomness only from <c>rng</c>.</summary>
public interface IDetectionTransform
{
    DetectionSample Apply(DetectionSample sample, SeededRng rng);
}

/// <summary>A pixel-value step (normalise, channel conversion, colour jitter) that leaves geometry alone.</summary>
public sealed class PixelStep(IImageTransform step) : IDetectionTransform
{
    public DetectionSample Apply(DetectionSample sample, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var img = step.Apply(sample.Image, rng);
        if (img.Width != sample.Image.Width || img.Height != sample.Image.Height)
            throw new InvalidOperationException($"{step.GetType().Name} changed the image size; only pixel-value steps may be wrapped in PixelStep.");
        return sample.With(img, sample.Objects, sample.Map);
    }
}

/// <summary>
/// Resize keeping the aspect ratio so the image fits <paramref name="height"/> × <paramref name="width"/>, placed at the
/// top-left and padded bottom/right with <paramref name="padValue"/> per channel (mmdet's Resize(keep_ratio) + Pad).
/// Boxes scale by the exact ratios the pixels were resized by (new size / old size per axis).
/// </summary>
public sealed class LetterboxResize(int height, int width, Interpolation interpolation, float[] padValue) : IDetectionTransform
{
    public DetectionSample Apply(DetectionSample sample, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var img = sample.Image;
        var scale = Math.Min((double)height / img.Height, (double)width / img.Width);
        int rh = Math.Clamp((int)Math.Round(img.Height * scale), 1, height), rw = Math.Clamp((int)Math.Round(img.Width * scale), 1, width);
        var resized = rh == img.Height && rw == img.Width ? img : Resampler.Resize(img, rh, rw, interpolation);
        var canvas = DetectionGeometry.Pad(resized, height, width, 0, 0, padValue);
        double sx = (double)rw / img.Width, sy = (double)rh / img.Height;
        var objects = sample.Objects.Select(o => o with { Box = o.Box.Affine(sx, sy, 0, 0) }).ToArray();
        return sample.With(canvas, objects, sample.Map.Then(sx, sy, 0, 0));
    }
}

/// <summary>Mirror left-right with probability <paramref name="probability"/>: x' = W - x.</summary>
public sealed class RandomHorizontalFlip(double probability) : IDetectionTransform
{
    public DetectionSample Apply(DetectionSample sample, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(rng);
        if (!rng.Chance(probability))
            return sample;
        var img = sample.Image.Clone();
        for (var c = 0; c < img.Channels; c++)
        {
            for (var y = 0; y < img.Height; y++)
                img.Plane(c).Slice(y * img.Width, img.Width).Reverse();
        }
        var w = img.Width;
        var objects = sample.Objects.Select(o => o with { Box = o.Box.Affine(-1, 1, w, 0) }).ToArray();
        return sample.With(img, objects, sample.Map.Then(-1, 1, w, 0));
    }
}

/// <summary>
/// Scale jitter with a crop to a fixed output (large-scale jitter, as in Copy-Paste/ViTDet training): the image is
/// resized keeping its aspect ratio by s × (the scale that fits the output), s drawn log-uniformly from
/// [<paramref name="minScale"/>, <paramref name="maxScale"/>]; a random <paramref name="height"/> × <paramref name="width"/>
/// window is cut where it is larger, the rest padded bottom/right. A box is clipped to the window and kept when at
/// least <paramref name="minVisibility"/> of its (resized) area remains inside, otherwise dropped, so the model is not
/// asked to find an object of which only a sliver is visible.
/// </summary>
public sealed class RandomScaleCrop(int height, int width, double minScale, double maxScale, double minVisibility, Interpolation interpolation, float[] padValue)
    : IDetectionTransform
{
    public DetectionSample Apply(DetectionSample sample, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(rng);
        var img = sample.Image;
        var fit = Math.Min((double)height / img.Height, (double)width / img.Width);
        var s = fit * Math.Exp(rng.Uniform(Math.Log(minScale), Math.Log(maxScale)));
        int rh = Math.Max(1, (int)Math.Round(img.Height * s)), rw = Math.Max(1, (int)Math.Round(img.Width * s));
        // The window of the resized image that is kept: random where the resized image is larger than the output.
        int x0 = rw > width ? rng.NextInt(rw - width + 1) : 0, y0 = rh > height ? rng.NextInt(rh - height + 1) : 0;
        int ww = Math.Min(width, rw), wh = Math.Min(height, rh);
        var window = Resampler.ResizeWindow(img, rh, rw, interpolation, 0, 0, img.Width, img.Height, x0, y0, ww, wh);
        var canvas = DetectionGeometry.Pad(window, height, width, 0, 0, padValue);
        double sx = (double)rw / img.Width, sy = (double)rh / img.Height;
        var kept = new List<DetectionObject>();
        foreach (var o in sample.Objects)
        {
            var moved = o.Box.Affine(sx, sy, -x0, -y0);
            var clipped = moved.Clip(ww, wh);
            if (!clipped.IsEmpty && clipped.Area >= minVisibility * moved.Area)
                kept.Add(o with { Box = clipped });
        }
        return sample.With(canvas, kept, sample.Map.Then(sx, sy, -x0, -y0));
    }
}

internal static class DetectionGeometry
{
    /// <summary><paramref name="src"/> placed at (x, y) on a <paramref name="height"/> × <paramref name="width"/> canvas filled with <paramref name="padValue"/>.</summary>
    public static ImageBuffer Pad(ImageBuffer src, int height, int width, int x, int y, float[] padValue)
    {
        if (src.Height == height && src.Width == width && x == 0 && y == 0)
            return src;
        if (padValue.Length != 1 && padValue.Length != src.Channels)
            throw new ArgumentException($"Pad value has {padValue.Length} channels, the image {src.Channels}.");
        var dst = new ImageBuffer(src.Channels, height, width);
        for (var c = 0; c < src.Channels; c++)
        {
            var plane = dst.Plane(c);
            plane.Fill(padValue[padValue.Length == 1 ? 0 : c]);
            var from = src.Plane(c);
            for (var r = 0; r < src.Height; r++)
                from.Slice(r * src.Width, src.Width).CopyTo(plane.Slice((r + y) * width + x, src.Width));
        }
        return dst;
    }
}
