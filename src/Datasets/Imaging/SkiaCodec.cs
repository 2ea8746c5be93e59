using System.Runtime.InteropServices;
using SkiaSharp;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// SkiaSharp for JPEG, PNG, WebP, GIF, BMP and ICO, with two faster or more exact paths inside: JPEGs go to the system's
/// TurboJPEG when it is installed (SIMD, and DCT-scaled decoding to a reduced size), non-interlaced 16-bit PNGs to
/// <see cref="Png16Decoder"/> (full precision). Output: 1 channel for greyscale sources, 3 otherwise, alpha flattened
/// onto <see cref="DecodeOptions.Background"/>.
/// </summary>
internal sealed class SkiaCodec : IImageCodec
{
    public static SkiaCodec Instance { get; } = new();

    public string Name => "skia";

    public DecodedImage Decode(byte[] data, string name, FileFormat format, DecodeOptions options)
    {
        using var codec = CreateCodec(data, name, out var skData);
        using (skData)
        {
            var info = codec.Info;
            ImageDecoder.CheckSize(info.Width, info.Height, name, options);
            var origin = (int)codec.EncodedOrigin;
            if (origin <= 1 && codec.EncodedFormat == SKEncodedImageFormat.Png)
                origin = ExifOrientation.FromPng(data);
            var warnings = new List<string>();
            var size = ChooseScaledSize(codec, options.MinShorterSide);
            ImageBuffer img;
            string used;
            if (codec.EncodedFormat == SKEncodedImageFormat.Png && Png16Decoder.Handles(data))
            {
                img = Png16Decoder.Decode(data, name, options);
                used = "png16";
            }
            else if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && options.UseTurboJpeg && TurboJpeg.IsAvailable
                && TurboJpeg.ReadHeader(data) is { } header && header.Width == info.Width && header.Height == info.Height)
            {
                img = TurboJpeg.Decode(data, size.Width, size.Height, header.Gray, name, out var warning);
                if (warning is not null)
                    warnings.Add(warning);
                used = "turbojpeg";
            }
            else
            {
                img = DecodePixels(codec, size, name, options, warnings);
                used = Name;
            }
            return new DecodedImage(img, format.Name, info.Width, info.Height, origin is >= 1 and <= 8 ? origin : 1, used, warnings);
        }
    }

    /// <summary>
    /// The decode size for a needed shorter side: the smallest of the codec's supported scales (k/8 for JPEG) whose shorter
    /// side is still at least <paramref name="minShorterSide"/>; the full size when the codec cannot scale or 0 is asked.
    /// </summary>
    internal static SKSizeI ChooseScaledSize(SKCodec codec, int minShorterSide)
    {
        var full = codec.Info.Size;
        if (minShorterSide <= 0 || codec.EncodedFormat != SKEncodedImageFormat.Jpeg)
            return full;
        // k/8 sizes rounded up, as both libjpeg(-turbo) and Skia's codec compute them, so either decoder can serve them.
        for (var k = 1; k < 8; k++)
        {
            var (w, h) = TurboJpeg.ScaledSize(full.Width, full.Height, k);
            var s = codec.GetScaledDimensions(k / 8f);
            if (Math.Min(w, h) >= minShorterSide && s.Width == w && s.Height == h)
                return s;
        }
        return full;
    }

    /// <summary>Format, size, orientation and frame count from the header alone (no pixel memory).</summary>
    internal static ImageHeader ReadHeader(byte[] data, string name)
    {
        using var codec = CreateCodec(data, name, out var skData);
        using (skData)
        {
            var origin = (int)codec.EncodedOrigin;
            if (origin <= 1 && codec.EncodedFormat == SKEncodedImageFormat.Png)
                origin = ExifOrientation.FromPng(data);
            return new ImageHeader(codec.EncodedFormat.ToString(), codec.Info.Width, codec.Info.Height, origin, codec.FrameCount);
        }
    }

    private static SKCodec CreateCodec(byte[] data, string name, out SKData skData)
    {
        skData = SKData.CreateCopy(data);
        var codec = SKCodec.Create(skData);
        if (codec is null)
        {
            skData.Dispose();
            // Only on failure: ask again through a stream, the overload that reports why.
            SKCodecResult result;
            using (var stream = new MemoryStream(data, writable: false))
            using (var retry = SKCodec.Create(stream, out result))
            {
            }
            throw result switch
            {
                SKCodecResult.IncompleteInput => new ImageDecodeException(name, "truncated file (the header is incomplete)", DecodeFailure.Truncated),
                SKCodecResult.Unimplemented => new ImageDecodeException(name, "not a supported image format", DecodeFailure.Unsupported),
                _ => new ImageDecodeException(name, $"not a recognised image or a corrupt header ({result})", DecodeFailure.Corrupt),
            };
        }
        return codec;
    }

    private static ImageBuffer DecodePixels(SKCodec codec, SKSizeI size, string name, DecodeOptions options, List<string> warnings)
    {
        var gray = codec.Info.ColorType == SKColorType.Gray8;
        var opaque = codec.Info.AlphaType == SKAlphaType.Opaque;
        var info = new SKImageInfo(size.Width, size.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888,
            gray || opaque ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var pixels = new byte[info.BytesSize];
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        SKCodecResult result;
        try
        {
            result = codec.GetPixels(info, handle.AddrOfPinnedObject());
        }
        finally
        {
            handle.Free();
        }
        // Skia's JPEG decoder is libjpeg-turbo too: with incomplete data it has filled the rest of the image, as
        // libjpeg-turbo's default mode (and Pillow) would, so the image is kept with a warning. Other formats are refused.
        if (result == SKCodecResult.IncompleteInput && codec.EncodedFormat == SKEncodedImageFormat.Jpeg)
            warnings.Add("Premature end of JPEG file (the missing part is filled)");
        else if (result != SKCodecResult.Success)
        {
            throw result switch
            {
                SKCodecResult.IncompleteInput => new ImageDecodeException(name, "truncated file (the image data ends early)", DecodeFailure.Truncated),
                SKCodecResult.ErrorInInput => new ImageDecodeException(name, "corrupt image data", DecodeFailure.Corrupt),
                SKCodecResult.InvalidScale => new ImageDecodeException(name, $"cannot decode at {size.Width}x{size.Height}", DecodeFailure.Corrupt),
                _ => new ImageDecodeException(name, $"decoding failed ({result})", DecodeFailure.Corrupt),
            };
        }
        return gray ? FromGray(pixels, info) : FromRgba(pixels, info, opaque, options.Background);
    }

    private static ImageBuffer FromGray(byte[] pixels, SKImageInfo info)
    {
        var img = new ImageBuffer(1, info.Height, info.Width);
        const float inv = 1f / 255f;
        for (var y = 0; y < info.Height; y++)
        {
            var row = pixels.AsSpan(y * info.RowBytes, info.Width);
            var d = img.Data.AsSpan(y * info.Width, info.Width);
            for (var x = 0; x < row.Length; x++)
                d[x] = row[x] * inv;
        }
        return img;
    }

    private static ImageBuffer FromRgba(byte[] pixels, SKImageInfo info, bool opaque, Rgb bg)
    {
        int h = info.Height, w = info.Width, plane = h * w;
        var img = new ImageBuffer(3, h, w);
        var d = img.Data;
        const float inv = 1f / 255f;
        for (var y = 0; y < h; y++)
        {
            var row = pixels.AsSpan(y * info.RowBytes, w * 4);
            var o = y * w;
            if (opaque)
            {
                for (var x = 0; x < w; x++)
                {
                    d[o + x] = row[4 * x] * inv;
                    d[plane + o + x] = row[4 * x + 1] * inv;
                    d[2 * plane + o + x] = row[4 * x + 2] * inv;
                }
            }
            else
            {
                for (var x = 0; x < w; x++)
                {
                    var a = row[4 * x + 3] * inv;
                    var b = 1 - a;
                    d[o + x] = row[4 * x] * inv * a + bg.R * b;
                    d[plane + o + x] = row[4 * x + 1] * inv * a + bg.G * b;
                    d[2 * plane + o + x] = row[4 * x + 2] * inv * a + bg.B * b;
                }
            }
        }
        return img;
    }
}
