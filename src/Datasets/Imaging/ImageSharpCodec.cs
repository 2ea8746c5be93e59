using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Tiff.Constants;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// SixLabors.ImageSharp 2.1 (managed, Apache-2.0) for what Skia cannot decode or decodes less faithfully: TIFF (every
/// compression ImageSharp reads: none, LZW, Deflate, PackBits, JPEG, CCITT), interlaced 16-bit PNG at full precision.
/// The header is identified first so that a decompression bomb is refused before any pixel memory exists, and only the
/// first frame of a multi-page file is decoded. Pixels are read as 16-bit RGBA, so 8- and 16-bit sources both keep
/// every bit.
/// </summary>
internal sealed class ImageSharpCodec : IImageCodec
{
    public static ImageSharpCodec Instance { get; } = new();

    /// <summary>One thread per decode: the loader already decodes one file per worker thread.</summary>
    private static readonly Configuration Config = CreateConfiguration();

    public string Name => "imagesharp";

    public DecodedImage Decode(byte[] data, string name, FileFormat format, DecodeOptions options)
    {
        var decoder = DecoderFor(format);
        try
        {
            IImageInfo? info;
            using (var stream = new MemoryStream(data, writable: false))
                info = ((IImageInfoDetector)decoder).Identify(Config, stream, CancellationToken.None);
            if (info is null)
                throw new ImageDecodeException(name, $"not a readable {format.Name} header", DecodeFailure.Corrupt);
            ImageDecoder.CheckSize(info.Width, info.Height, name, options);
            using var image = Image.Load<Rgba64>(Config, data, decoder);
            // TIFF keeps its tags (Orientation among them) on the frame, other formats on the image.
            var orientation = OrientationOf(image.Frames.RootFrame.Metadata.ExifProfile ?? image.Metadata.ExifProfile);
            var gray = IsGray(image, format);
            var buffer = ToBuffer(image, gray, options.Background);
            if (format.Name == "TIFF" && IsInvertedFax(image))
            {
                // ImageSharp 2.1's CCITT decoders ignore the photometric tag and always treat 0 as white (fax convention),
                // so a BlackIsZero fax TIFF (what Pillow and libtiff write for 1-bit images) comes out inverted; libtiff
                // and Pillow honour the tag. Checked against Pillow in PillowParityTests.
                var d = buffer.Data;
                for (var i = 0; i < d.Length; i++)
                    d[i] = 1f - d[i];
            }
            return new DecodedImage(buffer, format.Name, info.Width, info.Height, orientation, Name, []);
        }
        catch (ImageDecodeException)
        {
            throw;
        }
        catch (Exception e) when (e is EndOfStreamException)
        {
            throw new ImageDecodeException(name, $"truncated file ({e.Message})", DecodeFailure.Truncated, e);
        }
#pragma warning disable CA1031 // A managed decoder fed hostile bytes can throw anything (format, range, overflow): each is this file's fault.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            var truncated = e.Message.Contains("end of", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("EOF", StringComparison.Ordinal);
            throw new ImageDecodeException(name, $"{(truncated ? "truncated file" : "corrupt image data")} ({e.GetType().Name}: {e.Message})",
                truncated ? DecodeFailure.Truncated : DecodeFailure.Corrupt, e);
        }
    }

    private static Configuration CreateConfiguration()
    {
        var c = Configuration.Default.Clone();
        c.MaxDegreeOfParallelism = 1;
        return c;
    }

    private static IImageDecoder DecoderFor(FileFormat format) => format.Name switch
    {
        "TIFF" => new TiffDecoder { DecodingMode = FrameDecodingMode.First },
        "PNG" => new PngDecoder(),
        "GIF" => new GifDecoder { DecodingMode = FrameDecodingMode.First },
        "WebP" => new WebpDecoder(),
        "BMP" => new BmpDecoder(),
        "JPEG" => new JpegDecoder(),
        _ => throw new ArgumentException($"ImageSharp is not used for {format.Name}", nameof(format)),
    };

    private static int OrientationOf(ExifProfile? exif)
    {
        var value = exif?.GetValue(ExifTag.Orientation)?.Value;
        return value is >= 1 and <= 8 ? value.Value : 1;
    }

    /// <summary>Greyscale by what the file declares (as Skia and Pillow decide), never by looking at the pixels.</summary>
    private static bool IsGray(Image<Rgba64> image, FileFormat format) => format.Name switch
    {
        "TIFF" => image.Frames.RootFrame.Metadata.GetTiffMetadata().PhotometricInterpretation
            is TiffPhotometricInterpretation.BlackIsZero or TiffPhotometricInterpretation.WhiteIsZero,
        "PNG" => image.Metadata.GetPngMetadata().ColorType is PngColorType.Grayscale or PngColorType.GrayscaleWithAlpha,
        "JPEG" => image.Metadata.GetJpegMetadata().ColorType is JpegColorType.Luminance,
        _ => false,
    };

    private static bool IsInvertedFax(Image<Rgba64> image)
    {
        var tiff = image.Frames.RootFrame.Metadata.GetTiffMetadata();
        return tiff.PhotometricInterpretation == TiffPhotometricInterpretation.BlackIsZero
            && tiff.Compression is TiffCompression.CcittGroup3Fax or TiffCompression.CcittGroup4Fax or TiffCompression.Ccitt1D;
    }

    private static ImageBuffer ToBuffer(Image<Rgba64> image, bool gray, Rgb bg)
    {
        int h = image.Height, w = image.Width, plane = h * w;
        var buffer = new ImageBuffer(gray ? 1 : 3, h, w);
        var d = buffer.Data;
        const float inv = 1f / 65535f;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < h; y++)
            {
                var row = rows.GetRowSpan(y);
                var o = y * w;
                for (var x = 0; x < w; x++)
                {
                    var p = row[x];
                    float a = p.A * inv, b = 1 - a;
                    if (gray)
                        d[o + x] = p.R * inv * a + bg.Luma * b;
                    else
                    {
                        d[o + x] = p.R * inv * a + bg.R * b;
                        d[plane + o + x] = p.G * inv * a + bg.G * b;
                        d[2 * plane + o + x] = p.B * inv * a + bg.B * b;
                    }
                }
            }
        });
        return buffer;
    }
}
