using SixLabors.ImageSharp;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>What a file's header declares, read without decoding pixels.</summary>
public readonly record struct ImageHeader(string Format, int Width, int Height, int Orientation, int FrameCount);

/// <summary>
/// Decodes image files into [C,H,W] float buffers: 1 channel for greyscale sources, 3 otherwise, alpha flattened onto
/// <see cref="DecodeOptions.Background"/>, EXIF orientation applied, large JPEGs decoded at a reduced DCT scale when the
/// caller needs less. The format is told from the bytes (<see cref="FileFormat"/>), then one codec decodes it:
/// <list type="bullet">
/// <item>JPEG (baseline, progressive, CMYK/YCCK, MPO's first picture): TurboJPEG when installed, else Skia (both
/// libjpeg-turbo, as Pillow; warnings such as a premature end keep the image and are reported).</item>
/// <item>PNG, WebP, GIF (first frame), BMP, ICO: Skia; non-interlaced 16-bit PNG: our exact decoder.</item>
/// <item>TIFF and interlaced 16-bit PNG: ImageSharp (Skia has no TIFF decoder and reads 16-bit PNG as 8 bits).</item>
/// <item>DICOM ("DICM" at offset 128, or a .dcm/.dicom extension): our reader (<see cref="DicomImage"/>), exact against
/// pydicom.</item>
/// </list>
/// The choice per format follows the comparison with Pillow in the tests (tests/Datasets.Tests/PillowParityTests.cs).
/// Every failure is an <see cref="ImageDecodeException"/> naming the file, the reason and its <see cref="DecodeFailure"/>.
/// </summary>
public static class ImageDecoder
{
    /// <summary>File extensions folder sources pick up (lower case, with the dot).</summary>
    public static IReadOnlySet<string> Extensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".dcm", ".dicom" };

    private static readonly Dictionary<string, string[]> ExtensionsOf = new()
    {
        ["JPEG"] = [".jpg", ".jpeg", ".jpe", ".jfif", ".jif", ".mpo"],
        ["PNG"] = [".png"],
        ["GIF"] = [".gif"],
        ["WebP"] = [".webp"],
        ["BMP"] = [".bmp", ".dib"],
        ["TIFF"] = [".tif", ".tiff"],
        ["ICO"] = [".ico", ".cur"],
    };

    public static ImageBuffer Decode(string path, DecodeOptions? options = null) => DecodeDetailed(path, options).Image;

    /// <summary>Decodes in-memory file bytes; <paramref name="name"/> is what errors call the data.</summary>
    public static ImageBuffer Decode(byte[] data, string name, DecodeOptions? options = null) => DecodeDetailed(data, name, options).Image;

    /// <summary>Decodes a file and reports its format, stored size, orientation, codec and the decoder's warnings.</summary>
    public static DecodedImage DecodeDetailed(string path, DecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= DecodeOptions.Default;
        return DecodeDetailed(ReadFile(path, options), path, options);
    }

    /// <summary>Decodes in-memory file bytes with the details of <see cref="DecodeDetailed(string, DecodeOptions?)"/>.</summary>
    public static DecodedImage DecodeDetailed(byte[] data, string name, DecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= DecodeOptions.Default;
        if (data.Length > 0 && DicomFile.LooksLikeDicom(data, name))
        {
            var dicom = DicomImage.Decode(data, name, options);   // windowed, MONOCHROME1 inverted; no EXIF in DICOM
            return new DecodedImage(dicom, "DICOM", dicom.Width, dicom.Height, 1, "dicom", []);
        }
        var format = Identify(data, name);
        var decoded = CodecFor(format, data).Decode(data, name, format, options);
        var warnings = decoded.Warnings;
        var ext = Path.GetExtension(name);
        if (ext.Length > 0 && ExtensionsOf.TryGetValue(format.Name, out var exts) && !exts.Contains(ext, StringComparer.OrdinalIgnoreCase))
            warnings = [.. warnings, $"the file is {format.Name} but its extension is {ext}"];
        var image = options.ApplyExifOrientation ? ExifOrientation.Apply(decoded.Image, decoded.Orientation) : decoded.Image;
        return decoded with { Image = image, Warnings = warnings };
    }

    /// <summary>Decodes with a named codec ("skia", "imagesharp"): for tests that compare codecs on one file.</summary>
    internal static DecodedImage DecodeWith(string codec, byte[] data, string name, DecodeOptions? options = null)
    {
        options ??= DecodeOptions.Default;
        var format = Identify(data, name);
        IImageCodec c = codec == "imagesharp" ? ImageSharpCodec.Instance : SkiaCodec.Instance;
        var decoded = c.Decode(data, name, format, options);
        return options.ApplyExifOrientation ? decoded with { Image = ExifOrientation.Apply(decoded.Image, decoded.Orientation) } : decoded;
    }

    /// <summary>True when JPEGs are decoded by the system's TurboJPEG library (SIMD) rather than Skia's bundled decoder.</summary>
    public static bool TurboJpegAvailable => TurboJpeg.IsAvailable;

    /// <summary>Format, size and orientation from the header alone.</summary>
    public static ImageHeader ReadHeader(string path)
    {
        var data = ReadFile(path, DecodeOptions.Default);
        if (data.Length > 0 && DicomFile.LooksLikeDicom(data, path))
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
        var format = Identify(data, path);
        if (CodecFor(format, data) is ImageSharpCodec)
        {
            try
            {
                var info = Image.Identify(data) ?? throw new ImageDecodeException(path, $"not a readable {format.Name} header");
                var o = info.Metadata.ExifProfile?.GetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation)?.Value;
                return new ImageHeader(format.Name, info.Width, info.Height, o is >= 1 and <= 8 ? o.Value : 1, 1);
            }
            catch (Exception e) when (e is not ImageDecodeException and (ImageFormatException or NotSupportedException or InvalidDataException))
            {
                throw new ImageDecodeException(path, $"corrupt header ({e.Message})", e);
            }
        }
        return SkiaCodec.ReadHeader(data, path);
    }

    /// <summary>The format of the data; throws (empty, unsupported, unknown) when no codec can take it.</summary>
    private static FileFormat Identify(byte[] data, string name)
    {
        if (data.Length == 0)
            throw new ImageDecodeException(name, "the file is empty", DecodeFailure.Empty);
        var format = FileFormat.Detect(data.AsSpan(0, Math.Min(data.Length, FileFormat.HeadLength)), name);
        if (format.IsUnknown)
            throw new ImageDecodeException(name, "not a recognised image (unknown file signature)", DecodeFailure.Corrupt);
        if (!format.Decodable)
            throw new ImageDecodeException(name, $"{format.Name} is not a supported format", DecodeFailure.Unsupported);
        return format;
    }

    private static IImageCodec CodecFor(FileFormat format, byte[] data) => format.Name switch
    {
        "TIFF" => ImageSharpCodec.Instance,
        // 16-bit PNG with Adam7 interlacing: Skia would give 8 bits, Png16Decoder reads non-interlaced files only.
        "PNG" when IsInterlaced16BitPng(data) => ImageSharpCodec.Instance,
        _ => SkiaCodec.Instance,
    };

    private static bool IsInterlaced16BitPng(byte[] data) =>
        data.Length >= 29 && data.AsSpan(12, 4).SequenceEqual("IHDR"u8) && data[24] == 16 && data[28] == 1;

    /// <summary>Refuses a declared size that is invalid or over <see cref="DecodeOptions.MaxPixels"/> (before any pixel memory exists).</summary>
    internal static void CheckSize(int width, int height, string name, DecodeOptions options)
    {
        if (width <= 0 || height <= 0)
            throw new ImageDecodeException(name, $"invalid declared size {width}x{height}", DecodeFailure.Corrupt);
        if ((long)width * height > options.MaxPixels)
            throw new ImageDecodeException(name, $"declared size {width}x{height} exceeds the limit of {options.MaxPixels} pixels", DecodeFailure.TooLarge);
    }

    private static byte[] ReadFile(string path, DecodeOptions options)
    {
        try
        {
            var length = new FileInfo(path).Length;
            if (length > options.MaxFileBytes)
                throw new ImageDecodeException(path, $"the file has {length} bytes, over the limit of {options.MaxFileBytes}", DecodeFailure.TooLarge);
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException and not ImageDecodeException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot read the file ({e.Message})", DecodeFailure.Unreadable, e);
        }
    }
}
