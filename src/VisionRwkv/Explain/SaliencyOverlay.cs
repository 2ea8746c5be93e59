using SkiaSharp;
using VisionRwkv.Common;
using VisionRwkv.Datasets;

namespace VisionRwkv.Explain;

/// <summary>
/// Writes a saliency map over its image as a PNG: the image (gray or colour, un-normalised with the data config's
/// mean and std) blended with a colour map of the saliency (dark blue 0 → red 1), enlarged by whole pixels so that
/// small inputs (28x28) stay visible. Written atomically.
/// </summary>
public static class SaliencyOverlay
{
    /// <summary>Shorter side the PNG is enlarged to at least (nearest neighbour, whole multiples).</summary>
    public const int MinSide = 224;

    /// <param name="path">Target PNG; replaced atomically (callers decide whether an existing file may be replaced).</param>
    /// <param name="image">[C,H,W] normalised pixels, row-major (as the model saw them).</param>
    /// <param name="channels">C of the image.</param>
    /// <param name="map">[H,W] saliency in [0,1].</param>
    /// <param name="data">The preprocessing, to undo the normalisation.</param>
    /// <param name="alpha">Weight of the colour map in the blend.</param>
    public static void WritePng(string path, float[] image, int channels, float[,] map, DataConfig data, float alpha = 0.5f)
    {
        var png = Png(image, channels, map, data, alpha);
        AtomicFile.Write(path, s => s.Write(png));
    }

    /// <summary>The overlay as PNG bytes (for reports that embed it); arguments as <see cref="WritePng"/>.</summary>
    public static byte[] Png(float[] image, int channels, float[,] map, DataConfig data, float alpha = 0.5f)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(data);
        int h = map.GetLength(0), w = map.GetLength(1);
        if (image.Length != channels * h * w)
            throw new ArgumentException($"image has {image.Length} values; a {channels}x{h}x{w} image was expected", nameof(image));
        int scale = Math.Max(1, (MinSide + Math.Min(h, w) - 1) / Math.Min(h, w));
        using var bmp = new SKBitmap(new SKImageInfo(w * scale, h * scale, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[w * scale * h * scale * 4];
        Span<float> rgb = stackalloc float[3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    int ch = channels == 1 ? 0 : Math.Min(c, channels - 1);
                    float mean = data.Mean[Math.Min(ch, data.Mean.Length - 1)], std = data.Std[Math.Min(ch, data.Std.Length - 1)];
                    rgb[c] = Math.Clamp(image[(ch * h + y) * w + x] * std + mean, 0f, 1f);
                }
                var (cr, cg, cb) = Colour(Math.Clamp(map[y, x], 0f, 1f));
                byte r = ToByte((1 - alpha) * rgb[0] + alpha * cr), g = ToByte((1 - alpha) * rgb[1] + alpha * cg), b = ToByte((1 - alpha) * rgb[2] + alpha * cb);
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++)
                    {
                        int o = (((y * scale + dy) * w * scale) + x * scale + dx) * 4;
                        (pixels[o], pixels[o + 1], pixels[o + 2], pixels[o + 3]) = (r, g, b, 255);
                    }
            }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bmp.GetPixels(), pixels.Length);
        using var encoded = bmp.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the saliency PNG");
        return encoded.ToArray();
    }

    /// <summary>A blue → cyan → yellow → red ramp (jet-like, the colour map of the Grad-CAM paper's figures).</summary>
    internal static (float R, float G, float B) Colour(float v)
    {
        static float Ramp(float x) => Math.Clamp(1.5f - Math.Abs(4 * x), 0f, 1f);
        return (Ramp(v - 0.75f), Ramp(v - 0.5f), Ramp(v - 0.25f));
    }

    private static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);
}
