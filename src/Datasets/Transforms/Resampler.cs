using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>How pixels are interpolated when an image is resized.</summary>
public enum Interpolation
{
    Bilinear,
    Bicubic,
}

/// <summary>
/// Separable antialiased resampling on float arrays, the same algorithm as PyTorch's
/// <c>interpolate(..., antialias=True)</c> and Pillow's resize: when shrinking, the filter widens by the scale factor so
/// every input pixel contributes (no aliasing); taps are renormalised at the borders. Bicubic uses a = -0.5 like both.
/// A test compares it with LibTorch's own implementation.
/// </summary>
public static class Resampler
{
    /// <summary>Resizes the region (<paramref name="x0"/>, <paramref name="y0"/>, <paramref name="regionWidth"/> × <paramref name="regionHeight"/>) of <paramref name="src"/> to <paramref name="outHeight"/> × <paramref name="outWidth"/>.</summary>
    public static ImageBuffer Resize(ImageBuffer src, int outHeight, int outWidth, Interpolation interpolation,
        int x0, int y0, int regionWidth, int regionHeight)
    {
        ArgumentNullException.ThrowIfNull(src);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outWidth);
        if (x0 < 0 || y0 < 0 || regionWidth <= 0 || regionHeight <= 0 || x0 + regionWidth > src.Width || y0 + regionHeight > src.Height)
            throw new ArgumentException($"Region ({x0},{y0},{regionWidth}x{regionHeight}) is outside the {src.Width}x{src.Height} image.");
        if (regionWidth == outWidth && regionHeight == outHeight)
            return regionWidth == src.Width && regionHeight == src.Height ? src : Crop(src, x0, y0, regionWidth, regionHeight);

        var h = Weights.Build(regionWidth, outWidth, interpolation);
        var v = Weights.Build(regionHeight, outHeight, interpolation);
        int c = src.Channels, w = src.Width, sh = src.Height;

        // Horizontal pass over the rows of the region: [C, regionHeight, outWidth].
        var tmp = new float[c * regionHeight * outWidth];
        for (var ch = 0; ch < c; ch++)
        {
            for (var y = 0; y < regionHeight; y++)
            {
                var row = src.Data.AsSpan((ch * sh + y0 + y) * w + x0, regionWidth);
                var o = tmp.AsSpan((ch * regionHeight + y) * outWidth, outWidth);
                for (var x = 0; x < outWidth; x++)
                {
                    int start = h.Start[x], n = h.Count[x], k = x * h.MaxTaps;
                    var sum = 0f;
                    for (var t = 0; t < n; t++)
                        sum += row[start + t] * h.Values[k + t];
                    o[x] = sum;
                }
            }
        }

        // Vertical pass: [C, outHeight, outWidth], accumulating whole rows so the inner loop runs along memory.
        var dst = new ImageBuffer(c, outHeight, outWidth);
        for (var ch = 0; ch < c; ch++)
        {
            for (var y = 0; y < outHeight; y++)
            {
                var o = dst.Data.AsSpan((ch * outHeight + y) * outWidth, outWidth);
                int start = v.Start[y], n = v.Count[y], k = y * v.MaxTaps;
                for (var t = 0; t < n; t++)
                {
                    var wt = v.Values[k + t];
                    var r = tmp.AsSpan((ch * regionHeight + start + t) * outWidth, outWidth);
                    for (var x = 0; x < outWidth; x++)
                        o[x] += r[x] * wt;
                }
            }
        }
        return dst;
    }

    public static ImageBuffer Resize(ImageBuffer src, int outHeight, int outWidth, Interpolation interpolation)
    {
        ArgumentNullException.ThrowIfNull(src);
        return Resize(src, outHeight, outWidth, interpolation, 0, 0, src.Width, src.Height);
    }

    /// <summary>A copy of a rectangle that lies inside the image.</summary>
    public static ImageBuffer Crop(ImageBuffer src, int x0, int y0, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(src);
        var dst = new ImageBuffer(src.Channels, height, width);
        for (var c = 0; c < src.Channels; c++)
        {
            for (var y = 0; y < height; y++)
            {
                src.Data.AsSpan((c * src.Height + y0 + y) * src.Width + x0, width)
                    .CopyTo(dst.Data.AsSpan((c * height + y) * width, width));
            }
        }
        return dst;
    }

    private static double Filter(double x, Interpolation interpolation)
    {
        x = Math.Abs(x);
        if (interpolation == Interpolation.Bilinear)
            return x < 1 ? 1 - x : 0;
        const double a = -0.5;
        if (x < 1)
            return ((a + 2) * x - (a + 3)) * x * x + 1;
        return x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0;
    }

    private sealed class Weights
    {
        public required int[] Start { get; init; }

        public required int[] Count { get; init; }

        public required float[] Values { get; init; }

        public required int MaxTaps { get; init; }

        public static Weights Build(int inSize, int outSize, Interpolation interpolation)
        {
            var scale = (double)inSize / outSize;
            var filterScale = Math.Max(scale, 1.0);
            var support = (interpolation == Interpolation.Bilinear ? 1.0 : 2.0) * filterScale;
            var maxTaps = (int)Math.Ceiling(support) * 2 + 1;
            var start = new int[outSize];
            var count = new int[outSize];
            var values = new float[outSize * maxTaps];
            var tap = new double[maxTaps];
            for (var i = 0; i < outSize; i++)
            {
                var center = scale * (i + 0.5);
                var xmin = Math.Max((int)(center - support + 0.5), 0);
                var n = Math.Min((int)(center + support + 0.5), inSize) - xmin;
                n = Math.Min(n, maxTaps);
                var total = 0.0;
                for (var j = 0; j < n; j++)
                {
                    tap[j] = Filter((j + xmin - center + 0.5) / filterScale, interpolation);
                    total += tap[j];
                }
                for (var j = 0; j < n; j++)
                    values[i * maxTaps + j] = (float)(total != 0 ? tap[j] / total : 0);
                start[i] = xmin;
                count[i] = n;
            }
            return new Weights { Start = start, Count = count, Values = values, MaxTaps = maxTaps };
        }
    }
}
