using System.Buffers.Binary;
using System.Text;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>
/// Writes DICOM datasets byte by byte for tests: any VR and length (odd lengths, wrong lengths), explicit or implicit VR,
/// either byte order, sequences and items of defined or undefined length, encapsulated pixel data. Deliberately
/// independent of the reader under test: it only follows PS3.5 7.1 and 7.5.
/// </summary>
internal sealed class DicomWriter(bool explicitVr = true, bool littleEndian = true)
{
    private static readonly HashSet<string> LongVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];
    private readonly List<byte> bytes = [];

    public bool ExplicitVr => explicitVr;

    public bool LittleEndian => littleEndian;

    public byte[] ToArray() => [.. bytes];

    public int Length => bytes.Count;

    private void U16(int v)
    {
        var b = new byte[2];
        if (littleEndian)
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v);
        else
            BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)v);
        bytes.AddRange(b);
    }

    private void U32(uint v)
    {
        var b = new byte[4];
        if (littleEndian)
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        else
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
        bytes.AddRange(b);
    }

    /// <summary>An element header with the given length (0xFFFFFFFF for undefined) and no value.</summary>
    public DicomWriter Header(ushort group, ushort element, string vr, uint length)
    {
        U16(group);
        U16(element);
        if (explicitVr)
        {
            bytes.AddRange(Encoding.ASCII.GetBytes(vr));
            if (LongVrs.Contains(vr))
            {
                U16(0);
                U32(length);
            }
            else
            {
                U16((int)length);
            }
        }
        else
        {
            U32(length);
        }
        return this;
    }

    public DicomWriter Raw(params byte[] data)
    {
        bytes.AddRange(data);
        return this;
    }

    /// <summary>An element with exactly these value bytes (no padding added).</summary>
    public DicomWriter Element(ushort group, ushort element, string vr, byte[] value)
    {
        Header(group, element, vr, (uint)value.Length);
        bytes.AddRange(value);
        return this;
    }

    /// <summary>A text element, padded to even length (space, or NUL for UI).</summary>
    public DicomWriter Text(ushort group, ushort element, string vr, string value)
    {
        if (value.Length % 2 == 1)
            value += vr == "UI" ? "\0" : " ";
        return Element(group, element, vr, Encoding.ASCII.GetBytes(value));
    }

    public DicomWriter US(ushort group, ushort element, params int[] values)
    {
        var b = new byte[2 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (littleEndian)
                BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), (ushort)values[i]);
            else
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2 * i), (ushort)values[i]);
        }
        return Element(group, element, "US", b);
    }

    /// <summary>A sequence of items; each item is written with this writer's encoding.</summary>
    public DicomWriter Sequence(ushort group, ushort element, bool undefinedLength, bool undefinedItems, params DicomWriter[] items)
    {
        var content = new DicomWriter(explicitVr, littleEndian);
        foreach (var item in items)
        {
            var body = item.ToArray();
            content.U16(0xFFFE);
            content.U16(0xE000);
            content.U32(undefinedItems ? 0xFFFFFFFF : (uint)body.Length);
            content.Raw(body);
            if (undefinedItems)
            {
                content.U16(0xFFFE);
                content.U16(0xE00D);
                content.U32(0);
            }
        }
        if (undefinedLength)
        {
            content.U16(0xFFFE);
            content.U16(0xE0DD);
            content.U32(0);
        }
        var c = content.ToArray();
        Header(group, element, "SQ", undefinedLength ? 0xFFFFFFFF : (uint)c.Length);
        bytes.AddRange(c);
        return this;
    }

    /// <summary>Encapsulated Pixel Data: a Basic Offset Table item (empty unless given), the fragments, the delimiter.</summary>
    public DicomWriter Encapsulated(uint[]? offsets, params byte[][] fragments)
    {
        Header(0x7FE0, 0x0010, "OB", 0xFFFFFFFF);
        // Items are always little endian in encapsulated data.
        void Item(byte[] data)
        {
            var h = new byte[8];
            BinaryPrimitives.WriteUInt16LittleEndian(h, 0xFFFE);
            BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), 0xE000);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), (uint)data.Length);
            bytes.AddRange(h);
            bytes.AddRange(data);
        }
        var bot = new byte[4 * (offsets?.Length ?? 0)];
        for (var i = 0; i < bot.Length / 4; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(bot.AsSpan(4 * i), offsets![i]);
        Item(bot);
        foreach (var f in fragments)
            Item(f);
        bytes.AddRange([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        return this;
    }

    /// <summary>The image pixel module of a single-sample image.</summary>
    public DicomWriter Pixels(int rows, int columns, int bitsAllocated, int bitsStored, int pixelRepresentation, string photometric = "MONOCHROME2", int samples = 1, int? frames = null)
    {
        US(0x0028, 0x0002, samples);
        Text(0x0028, 0x0004, "CS", photometric);
        if (samples > 1)
            US(0x0028, 0x0006, 0);
        if (frames is { } f)
            Text(0x0028, 0x0008, "IS", f.ToString(System.Globalization.CultureInfo.InvariantCulture));
        US(0x0028, 0x0010, rows);
        US(0x0028, 0x0011, columns);
        US(0x0028, 0x0100, bitsAllocated);
        US(0x0028, 0x0101, bitsStored);
        US(0x0028, 0x0102, bitsStored - 1);
        US(0x0028, 0x0103, pixelRepresentation);
        return this;
    }

    /// <summary>Native 16-bit pixel data in this writer's byte order.</summary>
    public DicomWriter PixelData16(IEnumerable<int> values)
    {
        var v = values.ToArray();
        var b = new byte[2 * v.Length];
        for (var i = 0; i < v.Length; i++)
        {
            if (littleEndian)
                BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), (ushort)v[i]);
            else
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2 * i), (ushort)v[i]);
        }
        return Element(0x7FE0, 0x0010, "OW", b);
    }

    /// <summary>A Part 10 file: preamble, "DICM", a file meta group (explicit VR little endian) naming the transfer syntax, then the dataset.</summary>
    public static byte[] Part10(string transferSyntax, byte[] dataset)
    {
        var meta = new DicomWriter();
        meta.Element(0x0002, 0x0001, "OB", [0, 1]);
        meta.Text(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.1");
        meta.Text(0x0002, 0x0003, "UI", "1.2.3.4");
        meta.Text(0x0002, 0x0010, "UI", transferSyntax);
        var group = new DicomWriter();
        var length = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)meta.Length);
        group.Element(0x0002, 0x0000, "UL", length);
        var file = new List<byte>(new byte[128]);
        file.AddRange("DICM"u8.ToArray());
        file.AddRange(group.ToArray());
        file.AddRange(meta.ToArray());
        file.AddRange(dataset);
        return [.. file];
    }
}
