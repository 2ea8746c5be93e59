using System.Globalization;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// timm's RandAugment (<c>rand_augment_transform</c>) on [0, 1] float images: <c>NumLayers</c> ops drawn with replacement
/// from timm's default set (AutoContrast, Equalize, Invert, Rotate, Posterize, Solarize, SolarizeAdd, Color, Contrast,
/// Brightness, Sharpness, ShearX/Y, TranslateX/YRel), each applied with probability 0.5 at a magnitude drawn from
/// N(m, mstd) clipped to [0, 10]. Level-to-argument maps follow timm's non-"increasing" variants; geometric ops fill with
/// the data mean. Bit-level ops (posterize, solarize, equalize) work on the 8-bit value as Pillow does.
/// </summary>
public sealed class RandAugment : IImageTransform
{
    private static readonly string[] Ops =
    [
        "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color", "Contrast",
        "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
    ];

    private readonly float[] fill;

    public RandAugment(double magnitude, double magnitudeStd, int numLayers, float[] fill, double probability = 0.5, double magnitudeMax = 10)
    {
        ArgumentNullException.ThrowIfNull(fill);
        Magnitude = magnitude;
        MagnitudeStd = magnitudeStd;
        NumLayers = numLayers;
        Probability = probability;
        MagnitudeMax = magnitudeMax;
        this.fill = fill;
    }

    public double Magnitude { get; }

    public double MagnitudeStd { get; }

    public int NumLayers { get; }

    public double Probability { get; }

    public double MagnitudeMax { get; }

    public static IReadOnlyList<string> OpNames => Ops;

    /// <summary>
    /// Parses timm's policy string, e.g. <c>rand-m9-mstd0.5</c> or <c>rand-m7-n3-mstd0.5</c> (keys m, n, mstd, mmax, p).
    /// </summary>
    public static RandAugment Parse(string policy, float[] fill)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var parts = policy.Split('-');
        if (parts[0] != "rand")
            throw new ArgumentException($"Unsupported augmentation policy '{policy}': only 'rand-...' (RandAugment) is implemented.");
        double m = 10, mstd = 0, mmax = 10, p = 0.5;
        var n = 2;
        foreach (var part in parts.Skip(1))
        {
            static double Num(string s, string key, string policy) =>
                double.TryParse(s.AsSpan(key.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                    ? v : throw new ArgumentException($"Bad value in RandAugment policy '{policy}': '{s}'.");
            if (part.StartsWith("mstd", StringComparison.Ordinal))
                mstd = Num(part, "mstd", policy);
            else if (part.StartsWith("mmax", StringComparison.Ordinal))
                mmax = Num(part, "mmax", policy);
            else if (part.StartsWith('m'))
                m = Num(part, "m", policy);
            else if (part.StartsWith('n'))
                n = (int)Num(part, "n", policy);
            else if (part.StartsWith('p'))
                p = Num(part, "p", policy);
            else if (part.StartsWith("inc", StringComparison.Ordinal))
                throw new ArgumentException($"RandAugment policy '{policy}': the 'inc' op set is not implemented.");
            else
                throw new ArgumentException($"Unknown key '{part}' in RandAugment policy '{policy}'.");
        }
        return new RandAugment(m, mstd, n, fill, p, mmax);
    }

    public ImageBuffer Apply(ImageBuffer image, SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(rng);
        var chosen = new int[NumLayers];
        for (var i = 0; i < NumLayers; i++)
            chosen[i] = rng.NextInt(Ops.Length);
        foreach (var op in chosen)
        {
            if (Probability < 1 && rng.NextDouble() > Probability)
                continue;
            var m = Magnitude;
            if (MagnitudeStd > 0)
                m = rng.NextGaussian() * MagnitudeStd + m;
            m = Math.Clamp(m, 0, MagnitudeMax);
            image = ApplyOp(Ops[op], image, m / 10.0, rng);
        }
        return image;
    }

    /// <summary>One op at level in [0, 1] (magnitude / 10).</summary>
    internal ImageBuffer ApplyOp(string op, ImageBuffer image, double level, SeededRng rng)
    {
        double Signed(double v) => rng.Chance(0.5) ? -v : v;
        switch (op)
        {
            case "AutoContrast":
                AutoContrast(image);
                return image;
            case "Equalize":
                Equalize(image);
                return image;
            case "Invert":
                Map8(image, v => 255 - v);
                return image;
            case "Rotate":
            {
                var a = Signed(level * 30) * Math.PI / 180;
                double cos = Math.Cos(a), sin = Math.Sin(a);
                // Output to input about the centre for a counter-clockwise turn by a (y down).
                return Affine(image, cos, -sin, sin, cos, true);
            }
            case "Posterize":
            {
                var bits = (int)(level * 4);
                if (bits >= 8)
                    return image;
                var mask = ~((1 << (8 - bits)) - 1) & 0xFF;
                Map8(image, v => v & mask);
                return image;
            }
            case "Solarize":
            {
                var threshold = (int)(level * 256);
                Map8(image, v => v >= threshold ? 255 - v : v);
                return image;
            }
            case "SolarizeAdd":
            {
                var add = (int)(level * 110);
                Map8(image, v => v < 128 ? Math.Min(255, v + add) : v);
                return image;
            }
            case "Color":
                PixelOps.BlendWithGray(image, Enhance(level));
                return image;
            case "Contrast":
                // Pillow: the degenerate image is the rounded mean of the greyscale version.
                PixelOps.Blend(image, MathF.Round(PixelOps.MeanLuma(image) * 255f) / 255f, Enhance(level));
                return image;
            case "Brightness":
                PixelOps.Blend(image, 0f, Enhance(level));
                return image;
            case "Sharpness":
                PixelOps.Blend(image, Smooth(image), Enhance(level));
                return image;
            case "ShearX":
                return Affine(image, 1, Signed(level * 0.3), 0, 1, false);
            case "ShearY":
                return Affine(image, 1, 0, Signed(level * 0.3), 1, false);
            case "TranslateXRel":
                return Translate(image, Signed(level * 0.45) * image.Width, 0);
            case "TranslateYRel":
                return Translate(image, 0, Signed(level * 0.45) * image.Height);
            default:
                throw new ArgumentException($"Unknown RandAugment op '{op}'.");
        }
    }

    private static float Enhance(double level) => (float)(level * 1.8 + 0.1);

    private static void Map8(ImageBuffer image, Func<int, int> f)
    {
        var lut = new float[256];
        for (var v = 0; v < 256; v++)
            lut[v] = Math.Clamp(f(v), 0, 255) / 255f;
        var d = image.Data;
        for (var i = 0; i < d.Length; i++)
            d[i] = lut[To8(d[i])];
    }

    private static int To8(float v) => (int)Math.Clamp(MathF.Round(v * 255f), 0, 255);

    private static void AutoContrast(ImageBuffer image)
    {
        for (var c = 0; c < image.Channels; c++)
        {
            var p = image.Plane(c);
            float lo = float.MaxValue, hi = float.MinValue;
            foreach (var v in p)
            {
                lo = Math.Min(lo, v);
                hi = Math.Max(hi, v);
            }
            if (hi <= lo)
                continue;
            var s = 1f / (hi - lo);
            for (var i = 0; i < p.Length; i++)
                p[i] = (p[i] - lo) * s;
        }
    }

    /// <summary>Pillow's ImageOps.equalize per channel on 8-bit values.</summary>
    private static void Equalize(ImageBuffer image)
    {
        for (var c = 0; c < image.Channels; c++)
        {
            var p = image.Plane(c);
            var hist = new int[256];
            foreach (var v in p)
                hist[To8(v)]++;
            var last = 0;
            var nonZero = 0;
            for (var i = 0; i < 256; i++)
            {
                if (hist[i] > 0)
                {
                    nonZero++;
                    last = hist[i];
                }
            }
            if (nonZero <= 1)
                continue;
            var step = (p.Length - last) / 255;
            if (step == 0)
                continue;
            var lut = new float[256];
            var n = step / 2;
            for (var i = 0; i < 256; i++)
            {
                lut[i] = Math.Min(n / step, 255) / 255f;
                n += hist[i];
            }
            for (var i = 0; i < p.Length; i++)
                p[i] = lut[To8(p[i])];
        }
    }

    /// <summary>Pillow's SMOOTH filter (3×3, centre 5, others 1, /13); the border keeps the original pixels.</summary>
    private static float[] Smooth(ImageBuffer image)
    {
        var outp = (float[])image.Data.Clone();
        int h = image.Height, w = image.Width;
        for (var c = 0; c < image.Channels; c++)
        {
            var p = image.Plane(c);
            var o = outp.AsSpan(c * h * w, h * w);
            for (var y = 1; y < h - 1; y++)
            {
                for (var x = 1; x < w - 1; x++)
                {
                    var s = 4 * p[y * w + x];
                    for (var dy = -1; dy <= 1; dy++)
                    {
                        for (var dx = -1; dx <= 1; dx++)
                            s += p[(y + dy) * w + x + dx];
                    }
                    o[y * w + x] = s / 13f;
                }
            }
        }
        return outp;
    }

    private ImageBuffer Translate(ImageBuffer image, double dx, double dy) => Sample(image, (x, y) => (x + dx, y + dy));

    /// <summary>
    /// Output pixel centre (x, y) samples input (a·x + b·y, c·x + d·y), about the image centre when <paramref name="centred"/>
    /// (rotation) or the origin (shear, as Pillow's affine does).
    /// </summary>
    private ImageBuffer Affine(ImageBuffer image, double a, double b, double c, double d, bool centred)
    {
        double cx = centred ? image.Width / 2.0 : 0, cy = centred ? image.Height / 2.0 : 0;
        return Sample(image, (x, y) =>
        {
            double ux = x - cx, uy = y - cy;
            return (a * ux + b * uy + cx, c * ux + d * uy + cy);
        });
    }

    /// <summary>Bilinear resampling through an output-to-input map of pixel centres; outside pixels take the fill colour.</summary>
    private ImageBuffer Sample(ImageBuffer image, Func<double, double, (double X, double Y)> map)
    {
        int h = image.Height, w = image.Width;
        var dst = new ImageBuffer(image.Channels, h, w);
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var (sx, sy) = map(x + 0.5, y + 0.5);
                sx -= 0.5;
                sy -= 0.5;
                var x0 = (int)Math.Floor(sx);
                var y0 = (int)Math.Floor(sy);
                float fx = (float)(sx - x0), fy = (float)(sy - y0);
                for (var c = 0; c < image.Channels; c++)
                {
                    var f = c < fill.Length ? fill[c] : fill[0];
                    float Px(int yy, int xx) => yy >= 0 && yy < h && xx >= 0 && xx < w ? image[c, yy, xx] : f;
                    var top = Px(y0, x0) * (1 - fx) + Px(y0, x0 + 1) * fx;
                    var bottom = Px(y0 + 1, x0) * (1 - fx) + Px(y0 + 1, x0 + 1) * fx;
                    dst[c, y, x] = top * (1 - fy) + bottom * fy;
                }
            }
        }
        return dst;
    }
}
