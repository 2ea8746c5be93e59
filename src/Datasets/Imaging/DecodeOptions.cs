using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>How files are decoded into <see cref="ImageBuffer"/>s.</summary>
public sealed record DecodeOptions
{
    /// <summary>
    /// Largest width × height accepted; larger declared sizes are refused before any pixel memory is allocated
    /// (decompression bombs). Default: about 179 megapixels, the size at which Pillow turns its warning into an error.
    /// </summary>
    public long MaxPixels { get; init; } = 178_956_970;

    /// <summary>Largest file accepted, in bytes; larger files are refused before they are read. Default 1 GiB.</summary>
    public long MaxFileBytes { get; init; } = 1L << 30;

    /// <summary>Colour that transparent pixels are flattened onto, as RGB in [0, 1]. Default white.</summary>
    public Rgb Background { get; init; } = Rgb.White;

    /// <summary>Apply the EXIF orientation tag (all 8 values) so that photos come out upright.</summary>
    public bool ApplyExifOrientation { get; init; } = true;

    /// <summary>
    /// The shorter side the caller needs; 0 decodes at full size. When larger than zero, codecs that can decode at a
    /// reduced scale (JPEG DCT scaling) do so at the smallest scale whose shorter side is still at least this value.
    /// </summary>
    public int MinShorterSide { get; init; }

    /// <summary>
    /// Decode JPEGs with the system's TurboJPEG library when it is installed (several times faster than Skia's bundled
    /// decoder here); false always uses Skia.
    /// </summary>
    public bool UseTurboJpeg { get; init; } = true;

    /// <summary>How DICOM files are turned into images: frame, window, value convention (see <see cref="DicomImage"/>).</summary>
    public DicomOptions Dicom { get; init; } = DicomOptions.Default;

    public static DecodeOptions Default { get; } = new();
}

/// <summary>An RGB colour with components in [0, 1].</summary>
public readonly record struct Rgb(float R, float G, float B)
{
    public static Rgb White => new(1f, 1f, 1f);

    public static Rgb Black => new(0f, 0f, 0f);

    /// <summary>ITU-R 601 luma, the grey a single-channel image gets for this colour.</summary>
    public float Luma => 0.299f * R + 0.587f * G + 0.114f * B;
}

/// <summary>Why a file could not be decoded, in the categories a batch job reports.</summary>
public enum DecodeFailure
{
    /// <summary>The bytes are damaged or not an image of the format they claim.</summary>
    Corrupt,

    /// <summary>The data ends before the image does (and no mainstream decoder would show it).</summary>
    Truncated,

    /// <summary>The declared pixel count or the file size is over the limit (decompression bombs).</summary>
    TooLarge,

    /// <summary>Zero bytes.</summary>
    Empty,

    /// <summary>The file could not be read (permissions, I/O error, vanished).</summary>
    Unreadable,

    /// <summary>A recognised format that this toolkit does not decode (HEIC, camera raw, PSD, video, ...).</summary>
    Unsupported,
}

/// <summary>A file that could not be decoded: names the file, the reason and its category.</summary>
public sealed class ImageDecodeException : IOException
{
    public ImageDecodeException()
    {
        Path = string.Empty;
        Reason = string.Empty;
    }

    public ImageDecodeException(string message)
        : base(message)
    {
        Path = string.Empty;
        Reason = message;
    }

    public ImageDecodeException(string message, Exception inner)
        : base(message, inner)
    {
        Path = string.Empty;
        Reason = message;
    }

    public ImageDecodeException(string path, string reason, Exception? inner = null)
        : this(path, reason, DecodeFailure.Corrupt, inner)
    {
    }

    public ImageDecodeException(string path, string reason, DecodeFailure failure, Exception? inner = null)
        : base($"Cannot decode image '{path}': {reason}", inner)
    {
        Path = path;
        Reason = reason;
        Failure = failure;
    }

    /// <summary>The category of the failure (what a journal's status column says).</summary>
    public DecodeFailure Failure { get; }

    /// <summary>The file (or the name given for in-memory data).</summary>
    public string Path { get; }

    /// <summary>Why it failed, without the file name.</summary>
    public string Reason { get; }
}
