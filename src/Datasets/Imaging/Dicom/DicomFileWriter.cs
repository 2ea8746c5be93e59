using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>What a written 16-bit grayscale radiograph says about itself.</summary>
/// <param name="PatientId">(0010,0020).</param>
/// <param name="StudyInstanceUid">(0020,000D); <see cref="DicomFileWriter.Uid"/> makes one from any text.</param>
/// <param name="SopInstanceUid">(0008,0018), also the file meta's (0002,0003).</param>
/// <param name="BitsStored">12 to 16; pixel values must fit in them.</param>
/// <param name="WindowCenter">(0028,1050), in stored units (no rescale is written).</param>
/// <param name="WindowWidth">(0028,1051).</param>
public sealed record DicomGrayImageInfo(string PatientId, string StudyInstanceUid, string SopInstanceUid, int BitsStored,
    double WindowCenter, double WindowWidth)
{
    public string PatientName { get; init; } = "";
    public string Modality { get; init; } = "DX";
    public string SeriesInstanceUid { get; init; } = "";
}

/// <summary>
/// Writes one unsigned 16-bit MONOCHROME2 image as a DICOM Part 10 file (PS3.10 §7: 128-byte preamble, "DICM", file meta
/// group 0002) in Explicit VR Little Endian (1.2.840.10008.1.2.1), with the Digital X-Ray (for presentation) SOP class.
/// Written here because no DICOM library is served (fo-dicom is not obtainable) and the synthetic X-ray set needs only
/// this one uncompressed layout; pydicom reads the files back in a test.
/// </summary>
public static class DicomFileWriter
{
    public const string ExplicitVrLittleEndian = "1.2.840.10008.1.2.1";
    public const string DigitalXRayForPresentation = "1.2.840.10008.5.1.4.1.1.1.1";
    private const string ImplementationClassUid = "2.25.271828182845904523536028747135266249775";
    private static readonly HashSet<string> LongVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];

    /// <summary>A UID under the 2.25 root (PS3.5 B.2: a UUID as one decimal integer) derived from <paramref name="name"/>, so reruns give the same UIDs.</summary>
    public static string Uid(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(name));
        var value = new BigInteger(hash.AsSpan(0, 16), isUnsigned: true);
        return "2.25." + value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Writes <paramref name="pixels"/> (row-major [rows, columns]) to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, ReadOnlySpan<ushort> pixels, int rows, int columns, DicomGrayImageInfo info)
    {
        var bytes = Encode(pixels, rows, columns, info);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The bytes of the file <see cref="Write"/> writes.</summary>
    public static byte[] Encode(ReadOnlySpan<ushort> pixels, int rows, int columns, DicomGrayImageInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if (rows > ushort.MaxValue || columns > ushort.MaxValue) throw new ArgumentException($"{rows}x{columns}: DICOM rows and columns are 16-bit.");
        if (pixels.Length != rows * columns) throw new ArgumentException($"{pixels.Length} pixels for {rows}x{columns}.");
        if (info.BitsStored is < 12 or > 16) throw new ArgumentException($"BitsStored {info.BitsStored} is outside 12..16.");
        int max = (1 << info.BitsStored) - 1;
        foreach (var p in pixels)
            if (p > max) throw new ArgumentException($"Pixel value {p} does not fit in {info.BitsStored} bits.");
        if (!(info.WindowWidth >= 1)) throw new ArgumentException($"Window width {info.WindowWidth} must be >= 1.");

        var meta = new Elements();
        meta.Add(0x0002, 0x0001, "OB", [0, 1]);
        meta.Text(0x0002, 0x0002, "UI", DigitalXRayForPresentation);
        meta.Text(0x0002, 0x0003, "UI", info.SopInstanceUid);
        meta.Text(0x0002, 0x0010, "UI", ExplicitVrLittleEndian);
        meta.Text(0x0002, 0x0012, "UI", ImplementationClassUid);
        var metaBytes = meta.ToArray();

        var ds = new Elements();
        ds.Text(0x0008, 0x0016, "UI", DigitalXRayForPresentation);
        ds.Text(0x0008, 0x0018, "UI", info.SopInstanceUid);
        ds.Text(0x0008, 0x0060, "CS", info.Modality);
        ds.Text(0x0010, 0x0010, "PN", info.PatientName);
        ds.Text(0x0010, 0x0020, "LO", info.PatientId);
        ds.Text(0x0020, 0x000D, "UI", info.StudyInstanceUid);
        ds.Text(0x0020, 0x000E, "UI", info.SeriesInstanceUid.Length > 0 ? info.SeriesInstanceUid : Uid("series:" + info.StudyInstanceUid));
        ds.US(0x0028, 0x0002, 1);
        ds.Text(0x0028, 0x0004, "CS", "MONOCHROME2");
        ds.US(0x0028, 0x0010, rows);
        ds.US(0x0028, 0x0011, columns);
        ds.US(0x0028, 0x0100, 16);
        ds.US(0x0028, 0x0101, info.BitsStored);
        ds.US(0x0028, 0x0102, info.BitsStored - 1);
        ds.US(0x0028, 0x0103, 0);
        ds.Text(0x0028, 0x1050, "DS", info.WindowCenter.ToString("0.###", CultureInfo.InvariantCulture));
        ds.Text(0x0028, 0x1051, "DS", info.WindowWidth.ToString("0.###", CultureInfo.InvariantCulture));
        var pixelBytes = new byte[pixels.Length * 2];
        for (int i = 0; i < pixels.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(pixelBytes.AsSpan(2 * i), pixels[i]);
        ds.Add(0x7FE0, 0x0010, "OW", pixelBytes);

        var file = new List<byte>(132 + 12 + metaBytes.Length + ds.Length);
        file.AddRange(new byte[128]);
        file.AddRange("DICM"u8.ToArray());
        var groupLength = new Elements();
        groupLength.UL(0x0002, 0x0000, (uint)metaBytes.Length);
        file.AddRange(groupLength.ToArray());
        file.AddRange(metaBytes);
        file.AddRange(ds.ToArray());
        return [.. file];
    }

    /// <summary>Explicit VR little endian elements, in the order added (callers add them in ascending tag order).</summary>
    private sealed class Elements
    {
        private readonly List<byte> bytes = [];

        public int Length => bytes.Count;

        public byte[] ToArray() => [.. bytes];

        public void Add(ushort group, ushort element, string vr, byte[] value)
        {
            if (value.Length % 2 == 1) throw new ArgumentException($"({group:X4},{element:X4}): odd value length {value.Length}.");
            Span<byte> head = stackalloc byte[12];
            BinaryPrimitives.WriteUInt16LittleEndian(head, group);
            BinaryPrimitives.WriteUInt16LittleEndian(head[2..], element);
            head[4] = (byte)vr[0];
            head[5] = (byte)vr[1];
            int n;
            if (LongVrs.Contains(vr))
            {
                BinaryPrimitives.WriteUInt16LittleEndian(head[6..], 0);
                BinaryPrimitives.WriteUInt32LittleEndian(head[8..], (uint)value.Length);
                n = 12;
            }
            else
            {
                if (value.Length > ushort.MaxValue) throw new ArgumentException($"({group:X4},{element:X4}): {value.Length} bytes do not fit a short VR.");
                BinaryPrimitives.WriteUInt16LittleEndian(head[6..], (ushort)value.Length);
                n = 8;
            }
            bytes.AddRange(head[..n].ToArray());
            bytes.AddRange(value);
        }

        /// <summary>A text value padded to even length: NUL for UI, space otherwise (PS3.5 6.2).</summary>
        public void Text(ushort group, ushort element, string vr, string value)
        {
            foreach (var c in value)
                if (c is < ' ' or > '~') throw new ArgumentException($"({group:X4},{element:X4}): '{value}' is not printable ASCII.");
            if (value.Length % 2 == 1) value += vr == "UI" ? "\0" : " ";
            Add(group, element, vr, Encoding.ASCII.GetBytes(value));
        }

        public void US(ushort group, ushort element, int value)
        {
            var b = new byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, checked((ushort)value));
            Add(group, element, "US", b);
        }

        public void UL(ushort group, ushort element, uint value)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            Add(group, element, "UL", b);
        }
    }
}
