using System.Numerics;
using System.Runtime.InteropServices;
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
        int x0, int y0, int regionWidth, int regionHeight) =>
        ResizeWindow(src, outHeight, outWidth, interpolation, x0, y0, regionWidth, regionHeight, 0, 0, outWidth, outHeight);

    /// <summary>
    /// Only the window (<paramref name="ox"/>, <paramref name="oy"/>, <paramref name="windowWidth"/> × <paramref name="windowHeight"/>)
    /// of the <paramref name="outHeight"/> × <paramref name="outWidth"/> resize of the region: resize-then-crop without
    /// computing the pixels the crop throws away. Each output pixel is computed exactly as the full resize computes it.
    /// </summary>
    public static unsafe ImageBuffer ResizeWindow(ImageBuffer src, int outHeight, int outWidth, Interpolation interpolation,
        int x0, int y0, int regionWidth, int regionHeight, int ox, int oy, int windowWidth, int windowHeight)
    {
        if (ox < 0 || oy < 0 || windowWidth <= 0 || windowHeight <= 0 || ox + windowWidth > outWidth || oy + windowHeight > outHeight)
            throw new ArgumentException($"Output window ({ox},{oy},{windowWidth}x{windowHeight}) is outside {outWidth}x{outHeight}.");
        ArgumentNullException.ThrowIfNull(src);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outWidth);
        if (x0 < 0 || y0 < 0 || regionWidth <= 0 || regionHeight <= 0 || x0 + regionWidth > src.Width || y0 + regionHeight > src.Height)
            throw new ArgumentException($"Region ({x0},{y0},{regionWidth}x{regionHeight}) is outside the {src.Width}x{src.Height} image.");
        if (regionWidth == outWidth && regionHeight == outHeight)
        {
            var whole = windowWidth == outWidth && windowHeight == outHeight && regionWidth == src.Width && regionHeight == src.Height;
            return whole ? src : Crop(src, x0 + ox, y0 + oy, windowWidth, windowHeight);
        }

        var h = Weights.Build(regionWidth, outWidth, interpolation);
        var v = Weights.Build(regionHeight, outHeight, interpolation);
        int c = src.Channels, w = src.Width, sh = src.Height;

        // Vertical pass first, as whole-row SIMD multiply-adds along memory: [C, regionH, regionW] -> [C, outH, regionW].
        // Shrinking rows first leaves the horizontal (gather) pass the fewest rows to work on.
        var tmp = new float[c * windowHeight * regionWidth];
        for (var ch = 0; ch < c; ch++)
        {
            var plane = src.Data.AsSpan(ch * sh * w, sh * w);
            for (var y = 0; y < windowHeight; y++)
            {
                var yy = oy + y;
                CombineRows(plane, w, x0 + (y0 + v.Start[yy]) * w, v.Values.AsSpan(yy * v.MaxTaps, v.Count[yy]),
                    tmp.AsSpan((ch * windowHeight + y) * regionWidth, regionWidth));
            }
        }

        // Horizontal pass: [C, windowH, regionW] -> [C, windowH, windowW].
        var dst = new ImageBuffer(c, windowHeight, windowWidth);
        fixed (float* tp = tmp, dp = dst.Data, wp = h.Values)
        fixed (int* startp = h.Start, countp = h.Count)
        {
            var rows = c * windowHeight;
            for (var r = 0; r < rows; r++)
            {
                var row = tp + (long)r * regionWidth;
                var o = dp + (long)r * windowWidth;
                for (var x = 0; x < windowWidth; x++)
                {
                    var xx = ox + x;
                    var sp = row + startp[xx];
                    var k = wp + xx * h.MaxTaps;
                    var n = countp[xx];
                    var sum = 0f;
                    for (var t = 0; t < n; t++)
                        sum += sp[t] * k[t];
                    o[x] = sum;
                }
            }
        }
        return dst;
    }

    /// <summary>dst = sum over taps t of weights[t] * (the row of dst.Length values starting at first + t * stride).</summary>
    private static void CombineRows(ReadOnlySpan<float> plane, int stride, int first, ReadOnlySpan<float> weights, Span<float> dst)
    {
        var n = dst.Length;
        var x = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var lanes = Vector<float>.Count;
            for (; x <= n - lanes; x += lanes)
            {
                var acc = Vector<float>.Zero;
                ref var p0 = ref MemoryMarshal.GetReference(plane);
                for (var t = 0; t < weights.Length; t++)
                    acc += Vector.LoadUnsafe(ref p0, (nuint)(first + t * stride + x)) * weights[t];
                acc.CopyTo(dst.Slice(x, lanes));
            }
        }
        for (; x < n; x++)
        {
            var sum = 0f;
            for (var t = 0; t < weights.Length; t++)
                sum += plane[first + t * stride + x] * weights[t];
            dst[x] = sum;
        }
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
