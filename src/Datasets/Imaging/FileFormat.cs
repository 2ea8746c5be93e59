using System.Buffers.Binary;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>What a file is, told from its first bytes (and its extension where the bytes alone cannot tell).</summary>
/// <param name="Name">Format name for people and journals: JPEG, PNG, TIFF, HEIC, RAW (NEF), PSD, video (MP4/MOV), ...</param>
/// <param name="Decodable">True when <see cref="ImageDecoder"/> decodes it.</param>
public readonly record struct FileFormat(string Name, bool Decodable)
{
    /// <summary>The bytes are no format we recognise (decoding reports such a file as corrupt or not an image).</summary>
    public bool IsUnknown => Name == UnknownName;

    internal const string UnknownName = "unknown";

    /// <summary>Bytes <see cref="Detect"/> looks at (the longest signature is in the first 32).</summary>
    public const int HeadLength = 64;

    /// <summary>Extensions of camera raw files. Several are TIFF inside, so the extension decides before the bytes do.</summary>
    public static IReadOnlySet<string> RawExtensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw",
        ".x3f", ".3fr", ".fff", ".iiq", ".mef", ".mos", ".mrw", ".erf", ".kdc", ".dcr", ".rwl", ".gpr",
    };

    private static readonly Dictionary<string, string> ByExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".heic"] = "HEIC", [".heif"] = "HEIF", [".avif"] = "AVIF", [".psd"] = "PSD", [".psb"] = "PSD", [".xcf"] = "XCF",
        [".jxl"] = "JPEG XL", [".jp2"] = "JPEG 2000", [".j2k"] = "JPEG 2000", [".jpx"] = "JPEG 2000", [".svg"] = "SVG",
        [".pdf"] = "PDF", [".eps"] = "EPS", [".xmp"] = "XMP sidecar", [".mp4"] = "video (MP4)", [".m4v"] = "video (MP4)",
        [".mov"] = "video (MOV)", [".avi"] = "video (AVI)", [".mkv"] = "video (MKV)", [".webm"] = "video (WebM)",
        [".mts"] = "video (MPEG-TS)", [".m2ts"] = "video (MPEG-TS)", [".3gp"] = "video (3GP)", [".mpg"] = "video (MPEG)",
        [".wmv"] = "video (WMV)",
    };

    /// <summary>
    /// The format of a file from its first bytes (at least <see cref="HeadLength"/> when the file is that long) and its
    /// path. Magic bytes win over the extension, except for camera raw files, which are often TIFF inside.
    /// </summary>
    public static FileFormat Detect(ReadOnlySpan<byte> head, string path)
    {
        var ext = Path.GetExtension(path);
        if (RawExtensions.Contains(ext))
            return new FileFormat($"RAW ({ext.TrimStart('.').ToUpperInvariant()})", false);
        var byMagic = FromMagic(head);
        if (byMagic is { } f)
            return f;
        if (ByExtension.TryGetValue(ext, out var name))
            return new FileFormat(name, false);
        return new FileFormat(UnknownName, false);
    }

    private static FileFormat? FromMagic(ReadOnlySpan<byte> h)
    {
        static bool At(ReadOnlySpan<byte> h, int offset, ReadOnlySpan<byte> sig) => h.Length >= offset + sig.Length && h.Slice(offset, sig.Length).SequenceEqual(sig);

        if (At(h, 0, [0xFF, 0xD8, 0xFF]))
            return new FileFormat("JPEG", true);
        if (At(h, 0, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            return new FileFormat("PNG", true);
        if (At(h, 0, "GIF87a"u8) || At(h, 0, "GIF89a"u8))
            return new FileFormat("GIF", true);
        if (At(h, 0, "RIFF"u8) && At(h, 8, "WEBP"u8))
            return new FileFormat("WebP", true);
        if (At(h, 0, "RIFF"u8) && At(h, 8, "AVI "u8))
            return new FileFormat("video (AVI)", false);
        if (At(h, 0, "RIFF"u8) && At(h, 8, "WAVE"u8))
            return new FileFormat("audio (WAV)", false);
        if (At(h, 0, "BM"u8) && h.Length >= 18 && BinaryPrimitives.ReadUInt32LittleEndian(h[14..]) is 12 or 40 or 52 or 56 or 64 or 108 or 124)
            return new FileFormat("BMP", true);
        if (At(h, 0, "II*\0"u8) || At(h, 0, "MM\0*"u8))
        {
            // Canon CR2 is TIFF with "CR" at byte 8; other TIFF-based raws are caught by their extension above.
            if (At(h, 8, "CR"u8))
                return new FileFormat("RAW (CR2)", false);
            return new FileFormat("TIFF", true);
        }
        if (At(h, 0, "II+\0"u8) || At(h, 0, "MM\0+"u8))
            return new FileFormat("BigTIFF", false);
        if (At(h, 0, "IIRO"u8) || At(h, 0, "IIRS"u8))
            return new FileFormat("RAW (ORF)", false);
        if (At(h, 0, "IIU\0"u8))
            return new FileFormat("RAW (RW2)", false);
        if (At(h, 0, "FUJIFILMCCD-RAW"u8))
            return new FileFormat("RAW (RAF)", false);
        if (At(h, 0, [0x00, 0x00, 0x01, 0x00]) && h.Length >= 6 && h[4] + h[5] > 0)
            return new FileFormat("ICO", true);
        if (At(h, 0, "8BPS"u8))
            return new FileFormat("PSD", false);
        if (At(h, 0, "gimp xcf"u8))
            return new FileFormat("XCF", false);
        if (At(h, 0, "%PDF"u8))
            return new FileFormat("PDF", false);
        if (At(h, 0, [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || At(h, 0, [0xFF, 0x4F, 0xFF, 0x51]))
            return new FileFormat("JPEG 2000", false);
        if (At(h, 0, [0xFF, 0x0A]) || At(h, 0, [0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]))
            return new FileFormat("JPEG XL", false);
        if (At(h, 0, [0x1A, 0x45, 0xDF, 0xA3]))
            return new FileFormat("video (MKV/WebM)", false);
        if (At(h, 0, [0x00, 0x00, 0x01, 0xBA]) || At(h, 0, [0x00, 0x00, 0x01, 0xB3]))
            return new FileFormat("video (MPEG)", false);
        if (At(h, 0, [0x30, 0x26, 0xB2, 0x75]))
            return new FileFormat("video (WMV)", false);
        if (At(h, 4, "ftyp"u8) && h.Length >= 12)
            return Iso(h[8..12]);
        if (At(h, 0, "<?xpacket"u8) || At(h, 0, "<x:xmpmeta"u8))
            return new FileFormat("XMP sidecar", false);
        if (At(h, 0, "<svg"u8) || (At(h, 0, "<?xml"u8) && h.IndexOf("<svg"u8) >= 0))
            return new FileFormat("SVG", false);
        if (At(h, 0, "ID3"u8) || At(h, 0, "fLaC"u8) || At(h, 0, "OggS"u8))
            return new FileFormat("audio", false);
        return null;
    }

    /// <summary>ISO base media files (HEIF/AVIF still images, MP4/MOV/3GP video) by their major brand.</summary>
    private static FileFormat Iso(ReadOnlySpan<byte> brand)
    {
        var b = System.Text.Encoding.ASCII.GetString(brand);
        return b switch
        {
            "heic" or "heix" or "heim" or "heis" or "hevc" or "hevx" => new FileFormat("HEIC", false),
            "mif1" or "msf1" => new FileFormat("HEIF", false),
            "avif" or "avis" => new FileFormat("AVIF", false),
            "crx " => new FileFormat("RAW (CR3)", false),
            "qt  " => new FileFormat("video (MOV)", false),
            "3gp4" or "3gp5" or "3g2a" => new FileFormat("video (3GP)", false),
            "M4A " => new FileFormat("audio (M4A)", false),
            _ => new FileFormat("video (MP4)", false),
        };
    }
}
