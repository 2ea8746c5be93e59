namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>How the pixel data of a transfer syntax is stored, which decides the decoder.</summary>
public enum PixelEncoding
{
    /// <summary>Native (uncompressed) pixel data.</summary>
    Native,

    /// <summary>RLE Lossless (PS3.5 Annex G), decoded by our own code.</summary>
    Rle,

    /// <summary>JPEG baseline and extended (sequential DCT, 8 or 12 bit): libjpeg-turbo for 8 bit, our decoder for 12 bit.</summary>
    JpegDct,

    /// <summary>JPEG lossless process 14, any predictor (our decoder; libjpeg-turbo 2.1 has no lossless mode).</summary>
    JpegLossless,

    /// <summary>JPEG-LS lossless and near-lossless (CharLS).</summary>
    JpegLs,

    /// <summary>JPEG 2000 part 1 (OpenJPEG).</summary>
    Jpeg2000,

    /// <summary>A transfer syntax this reader recognises by name but cannot decode.</summary>
    Unsupported,
}

/// <summary>A transfer syntax: how the dataset is encoded (VR, byte order, deflate) and how the pixels are compressed.</summary>
public sealed record TransferSyntax(string Uid, string Name, bool ExplicitVr, bool LittleEndian, bool Deflated, PixelEncoding Encoding)
{
    public bool IsEncapsulated => Encoding != PixelEncoding.Native;

    public static TransferSyntax ImplicitVrLittleEndian { get; } = new("1.2.840.10008.1.2", "Implicit VR Little Endian", false, true, false, PixelEncoding.Native);

    public static TransferSyntax ExplicitVrLittleEndian { get; } = new("1.2.840.10008.1.2.1", "Explicit VR Little Endian", true, true, false, PixelEncoding.Native);

    public static TransferSyntax ExplicitVrBigEndian { get; } = new("1.2.840.10008.1.2.2", "Explicit VR Big Endian", true, false, false, PixelEncoding.Native);

    public static TransferSyntax DeflatedExplicitVrLittleEndian { get; } = new("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", true, true, true, PixelEncoding.Native);

    private static readonly Dictionary<string, TransferSyntax> Known = Build();

    /// <summary>
    /// The transfer syntax for <paramref name="uid"/>. UIDs that are not in the table are read as explicit VR little endian
    /// (what pydicom does) and their pixel data is reported as an unsupported transfer syntax.
    /// </summary>
    public static TransferSyntax FromUid(string uid) =>
        Known.TryGetValue(uid, out var ts) ? ts : new TransferSyntax(uid, "unknown transfer syntax", true, true, false, PixelEncoding.Unsupported);

    /// <summary>Every transfer syntax the table names, decodable or not.</summary>
    public static IReadOnlyCollection<TransferSyntax> All => Known.Values;

    private static Dictionary<string, TransferSyntax> Build()
    {
        var list = new List<TransferSyntax>
        {
            ImplicitVrLittleEndian,
            ExplicitVrLittleEndian,
            ExplicitVrBigEndian,
            DeflatedExplicitVrLittleEndian,
            Encaps("1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", PixelEncoding.JpegDct),
            Encaps("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", PixelEncoding.JpegDct),
            Encaps("1.2.840.10008.1.2.4.52", "JPEG Extended (Process 3 & 5) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.53", "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.54", "JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.55", "JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.56", "JPEG Full Progression, Non-Hierarchical (Process 11 & 13) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", PixelEncoding.JpegLossless),
            Encaps("1.2.840.10008.1.2.4.58", "JPEG Lossless, Non-Hierarchical (Process 15) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.59", "JPEG Extended, Hierarchical (Process 16 & 18) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.60", "JPEG Extended, Hierarchical (Process 17 & 19) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.61", "JPEG Spectral Selection, Hierarchical (Process 20 & 22) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.62", "JPEG Spectral Selection, Hierarchical (Process 21 & 23) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.63", "JPEG Full Progression, Hierarchical (Process 24 & 26) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.64", "JPEG Full Progression, Hierarchical (Process 25 & 27) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.65", "JPEG Lossless, Hierarchical (Process 28) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.66", "JPEG Lossless, Hierarchical (Process 29) (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", PixelEncoding.JpegLossless),
            Encaps("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression", PixelEncoding.JpegLs),
            Encaps("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless) Image Compression", PixelEncoding.JpegLs),
            Encaps("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", PixelEncoding.Jpeg2000),
            Encaps("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression", PixelEncoding.Jpeg2000),
            Encaps("1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component Image Compression", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.94", "JPIP Referenced", PixelEncoding.Unsupported),
            new("1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate", true, true, true, PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.100.1", "Fragmentable MPEG2 Main Profile / Main Level", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.101", "MPEG2 Main Profile / High Level", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.101.1", "Fragmentable MPEG2 Main Profile / High Level", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile / Level 4.1", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.102.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.103.1", "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.104.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.105.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.106.1", "Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile / Level 5.1", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10 Profile / Level 5.1", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.112", "JPEG XL", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.4.204", "JPIP HTJ2K Referenced", PixelEncoding.Unsupported),
            new("1.2.840.10008.1.2.4.205", "JPIP HTJ2K Referenced Deflate", true, true, true, PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.5", "RLE Lossless", PixelEncoding.Rle),
            Encaps("1.2.840.10008.1.2.6.1", "RFC 2557 MIME encapsulation (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.6.2", "XML Encoding (Retired)", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.7.1", "SMPTE ST 2110-20 Uncompressed Progressive Active Video", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.7.2", "SMPTE ST 2110-20 Uncompressed Interlaced Active Video", PixelEncoding.Unsupported),
            Encaps("1.2.840.10008.1.2.7.3", "SMPTE ST 2110-30 PCM Digital Audio", PixelEncoding.Unsupported),
            new("1.2.840.10008.1.20", "Papyrus 3 Implicit VR Little Endian (Retired)", false, true, false, PixelEncoding.Native),
        };
        return list.ToDictionary(t => t.Uid, StringComparer.Ordinal);
    }

    private static TransferSyntax Encaps(string uid, string name, PixelEncoding encoding) => new(uid, name, true, true, false, encoding);
}
