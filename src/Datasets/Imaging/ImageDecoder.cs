using System.Runtime.InteropServices;
using SkiaSharp;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>What a file's header declares, read without decoding pixels.</summary>
public readonly record struct ImageHeader(string Format, int Width, int Height, int Orientation, int FrameCount);

/// <summary>
/// Decodes JPEG, PNG (8 and 16 bit, grey and colour), WebP, BMP and GIF (first frame) into [C,H,W] float buffers with
/// SkiaSharp: 1 channel for greyscale sources, 3 otherwise, alpha flattened onto <see cref="DecodeOptions.Background"/>,
/// EXIF orientation applied, large JPEGs decoded at a reduced DCT scale when the caller needs less. DICOM files ("DICM" at
/// offset 128, or a .dcm/.dicom extension) go to <see cref="DicomImage"/>. Every failure is an
/// <see cref="ImageDecodeException"/> naming the file and the reason.
/// </summary>
public static class ImageDecoder
{
    /// <summary>File extensions folder sources pick up (lower case, with the dot).</summary>
    public static IReadOnlySet<string> Extensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".dcm", ".dicom" };

    public static ImageBuffer Decode(string path, DecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Decode(ReadFile(path), path, options);
    }

    /// <summary>Decodes in-memory file bytes; <paramref name="name"/> is what errors call the data.</summary>
    public static ImageBuffer Decode(byte[] data, string name, DecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= DecodeOptions.Default;
        if (data.Length == 0)
            throw new ImageDecodeException(name, "the file is empty");
        if (DicomFile.LooksLikeDicom(data, name))
            return DicomImage.Decode(data, name, options);

        using var codec = CreateCodec(data, name, out var skData);
        using (skData)
        {
            var info = codec.Info;
            CheckSize(info.Width, info.Height, name, options);
            var origin = options.ApplyExifOrientation ? (int)codec.EncodedOrigin : 1;

            ImageBuffer img;
            var size = ChooseScaledSize(codec, options.MinShorterSide);
            if (codec.EncodedFormat == SKEncodedImageFormat.Png && Png16Decoder.Handles(data))
                img = Png16Decoder.Decode(data, name, options);
            else if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && options.UseTurboJpeg && TurboJpeg.IsAvailable
                && TurboJpeg.ReadHeader(data) is { } header && header.Width == info.Width && header.Height == info.Height)
                img = TurboJpeg.Decode(data, size.Width, size.Height, header.Gray, name);
            else
                img = DecodePixels(codec, size, name, options);
            return ExifOrientation.Apply(img, origin);
        }
    }

    /// <summary>True when JPEGs are decoded by the system's TurboJPEG library (SIMD) rather than Skia's bundled decoder.</summary>
    public static bool TurboJpegAvailable => TurboJpeg.IsAvailable;

    /// <summary>Format, size and orientation from the header alone.</summary>
    public static ImageHeader ReadHeader(string path)
    {
        var data = ReadFile(path);
        if (data.Length == 0)
            throw new ImageDecodeException(path, "the file is empty");
        if (DicomFile.LooksLikeDicom(data, path))
        {
            try
            {
                var info = DicomFile.Parse(data, path).Info;
                return new ImageHeader("DICOM", info.Columns, info.Rows, 1, info.Frames);
            }
            catch (DicomException e)
            {
                throw new ImageDecodeException(path, e.ReasonWithOffset, e);
            }
        }
        using var codec = CreateCodec(data, path, out var skData);
        using (skData)
            return new ImageHeader(codec.EncodedFormat.ToString(), codec.Info.Width, codec.Info.Height, (int)codec.EncodedOrigin, codec.FrameCount);
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

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot read the file ({e.Message})", e);
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
            var reason = result switch
            {
                SKCodecResult.IncompleteInput => "truncated file (the header is incomplete)",
                SKCodecResult.Unimplemented => "not a supported image format",
                _ => $"not a recognised image or a corrupt header ({result})",
            };
            throw new ImageDecodeException(name, reason);
        }
        return codec;
    }

    private static void CheckSize(int width, int height, string name, DecodeOptions options)
    {
        if (width <= 0 || height <= 0)
            throw new ImageDecodeException(name, $"invalid declared size {width}x{height}");
        if ((long)width * height > options.MaxPixels)
            throw new ImageDecodeException(name, $"declared size {width}x{height} exceeds the limit of {options.MaxPixels} pixels");
    }

    private static ImageBuffer DecodePixels(SKCodec codec, SKSizeI size, string name, DecodeOptions options)
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
        if (result != SKCodecResult.Success)
        {
            var reason = result switch
            {
                SKCodecResult.IncompleteInput => "truncated file (the image data ends early)",
                SKCodecResult.ErrorInInput => "corrupt image data",
                SKCodecResult.InvalidScale => $"cannot decode at {size.Width}x{size.Height}",
                _ => $"decoding failed ({result})",
            };
            throw new ImageDecodeException(name, reason);
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
