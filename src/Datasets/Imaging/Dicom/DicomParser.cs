using System.Buffers.Binary;
using System.IO.Compression;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// Reads a DICOM byte stream into datasets. Follows pydicom's reading rules where the standard leaves room: a Part 10
/// file (128-byte preamble, "DICM", file meta group) or a raw dataset; the transfer syntax guessed from the first
/// element when there is no file meta; explicit VR elements whose VR bytes are not letters read as implicit; undefined
/// length UN elements read as sequences; odd lengths accepted; a file cut inside its last top-level element keeps what
/// is there (the element is marked truncated). Every other inconsistency is a <see cref="DicomException"/> with the
/// offset. Nothing is allocated from a declared length: values stay slices of the file buffer.
/// </summary>
internal sealed class DicomParser
{
    private const int MaxDepth = 32;

    private static readonly HashSet<string> LongLengthVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];

    private static readonly HashSet<string> KnownVrs =
    [
        "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN",
        "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
    ];

    private readonly string name;
    private readonly List<string> warnings = [];
    private readonly bool partial;
    private readonly bool stopAtPixelData;
    private byte[] buf;
    private bool deflated;

    private DicomParser(string name, byte[] data, bool partial, bool stopAtPixelData)
    {
        this.name = name;
        buf = data;
        this.partial = partial;
        this.stopAtPixelData = stopAtPixelData;
    }

    /// <summary>Thrown when a prefix read of a file ended before the header did; the caller reads more and tries again.</summary>
    internal sealed class NeedMoreDataException : Exception
    {
        public NeedMoreDataException()
        {
        }

        public NeedMoreDataException(string message)
            : base(message)
        {
        }

        public NeedMoreDataException(string message, Exception inner)
            : base(message, inner)
        {
        }
    }

    /// <summary>
    /// Parses <paramref name="data"/>. With <paramref name="partial"/> the data is only the start of the file, and running
    /// off its end asks for more data; <paramref name="stopAtPixelData"/> stops at the first top-level element at or after
    /// (7FE0,0010) (header-only reads).
    /// </summary>
    public static DicomFile Parse(byte[] data, string name, long maxBytes, bool partial = false, bool stopAtPixelData = false)
    {
        if (!partial && data.LongLength > maxBytes)
            throw new DicomException(name, $"the file is {data.LongLength} bytes, over the limit of {maxBytes} bytes", null);
        if (data.Length == 0)
            throw new DicomException(name, "the file is empty", null);
        return new DicomParser(name, data, partial, stopAtPixelData).Run(maxBytes);
    }

    /// <summary>True for a Part 10 file ("DICM" at offset 128).</summary>
    public static bool HasPart10Magic(ReadOnlySpan<byte> data) =>
        data.Length >= 132 && data[128] == (byte)'D' && data[129] == (byte)'I' && data[130] == (byte)'C' && data[131] == (byte)'M';

    private DicomFile Run(long maxBytes)
    {
        var pos = 0;
        var preamble = HasPart10Magic(buf);
        if (preamble)
            pos = 132;

        // File meta information: group 0002, always explicit VR little endian (read with the same VR check as the rest).
        var meta = new DicomDataset(name, true, true, null);
        if (buf.Length - pos >= 8 && BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(pos)) == 0x0002)
        {
            var explicitMeta = DetectExplicit(pos, buf.Length, true, true, topLevel: true);
            pos = ReadElements(meta, pos, buf.Length, true, explicitMeta, depth: 0, itemUndefined: false, metaOnly: true);
        }
        else if (preamble)
        {
            warnings.Add("the file has a preamble and DICM prefix but no file meta group");
        }

        var tsUid = meta.GetString(DicomTags.TransferSyntaxUid);
        TransferSyntax ts;
        bool little, explicitVr;
        if (tsUid is null)
        {
            // No transfer syntax: guess from the first element like pydicom (a known VR after the tag: explicit VR; a group
            // that reads as 1024 or more in little endian: big endian). Otherwise implicit VR little endian.
            little = true;
            explicitVr = false;
            if (buf.Length - pos >= 6)
            {
                var group = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(pos));
                var vr = VrAt(pos + 4);
                if (KnownVrs.Contains(vr))
                {
                    explicitVr = true;
                    if (group >= 1024)
                        little = false;
                }
            }
            ts = explicitVr ? (little ? TransferSyntax.ExplicitVrLittleEndian : TransferSyntax.ExplicitVrBigEndian) : TransferSyntax.ImplicitVrLittleEndian;
            warnings.Add($"no transfer syntax in the file meta; read as {ts.Name}");
        }
        else
        {
            ts = TransferSyntax.FromUid(tsUid);
            little = ts.LittleEndian;
            explicitVr = ts.ExplicitVr;
        }

        if (ts.Deflated)
        {
            buf = Inflate(pos, maxBytes);
            pos = 0;
            deflated = true;
        }

        if (pos < buf.Length)
        {
            var detected = DetectExplicit(pos, buf.Length, little, explicitVr, topLevel: true);
            if (detected != explicitVr)
                warnings.Add($"expected {(explicitVr ? "explicit" : "implicit")} VR but found {(detected ? "explicit" : "implicit")} VR; reading as found");
            explicitVr = detected;
        }
        var dataset = new DicomDataset(name, little, explicitVr, null);
        ReadElements(dataset, pos, buf.Length, little, explicitVr, depth: 0, itemUndefined: false, metaOnly: false);
        return new DicomFile(name, preamble, meta, dataset, ts, warnings, deflated);
    }

    private byte[] Inflate(int pos, long maxBytes)
    {
        if (partial)
            throw new NeedMoreDataException(); // a deflated dataset needs the whole file
        try
        {
            using var input = new MemoryStream(buf, pos, buf.Length - pos, writable: false);
            using var inflater = new DeflateStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            var chunk = new byte[1 << 16];
            int n;
            while ((n = inflater.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (output.Length + n > maxBytes)
                    throw new DicomException(name, $"the deflated dataset inflates to more than the limit of {maxBytes} bytes", pos);
                output.Write(chunk, 0, n);
            }
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DicomException(name, $"the deflated dataset is corrupt ({e.Message})", pos, e);
        }
    }

    private string VrAt(int p) => p + 2 <= buf.Length ? string.Create(2, (buf[p], buf[p + 1]), (s, b) => { s[0] = (char)b.Item1; s[1] = (char)b.Item2; }) : string.Empty;

    private bool IsVrBytes(int p) => p + 2 <= buf.Length && buf[p] is >= (byte)'A' and <= (byte)'Z' && buf[p + 1] is >= (byte)'A' and <= (byte)'Z';

    /// <summary>
    /// pydicom's check of the first element: VR bytes that are two upper-case letters mean explicit VR. In a sequence item
    /// of an implicit VR dataset, implicit VR is kept whatever the bytes say.
    /// </summary>
    private bool DetectExplicit(int pos, int end, bool little, bool assumedExplicit, bool topLevel)
    {
        if (!topLevel && !assumedExplicit)
            return false;
        if (end - pos < 6)
            return assumedExplicit;
        var found = IsVrBytes(pos + 4);
        return found;
    }

    private DicomTag TagAt(int p, bool little) => little
        ? new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(p)), BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(p + 2)))
        : new DicomTag(BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(p)), BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(p + 2)));

    private uint U32At(int p, bool little) => little ? BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(p)) : BinaryPrimitives.ReadUInt32BigEndian(buf.AsSpan(p));

    private ushort U16At(int p, bool little) => little ? BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(p)) : BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(p));

    private DicomException Error(string what, long offset) =>
        new(name, deflated ? what + " (offset in the inflated dataset)" : what, offset);

    /// <summary>
    /// Reads elements into <paramref name="ds"/> from <paramref name="pos"/> up to <paramref name="end"/>; an item of
    /// undefined length ends at its delimitation item instead. Returns the position after what was read.
    /// </summary>
    private int ReadElements(DicomDataset ds, int pos, int end, bool little, bool explicitVr, int depth, bool itemUndefined, bool metaOnly)
    {
        if (depth > MaxDepth)
            throw Error($"sequences are nested deeper than {MaxDepth} levels", pos);
        var topLevel = depth == 0;
        while (pos < end)
        {
            if (end - pos < 8)
            {
                if (partial && end == buf.Length)
                    throw new NeedMoreDataException();
                if (topLevel)
                {
                    // pydicom stops quietly when fewer than 8 bytes remain; a few bytes of trailing padding are common.
                    warnings.Add($"{end - pos} trailing bytes after the last element ignored");
                    return end;
                }
                throw Error($"a sequence item ends inside an element header ({end - pos} bytes left)", pos);
            }
            var tag = TagAt(pos, little);
            if (metaOnly && tag.Group != 0x0002)
                return pos;
            if (tag == DicomTags.ItemDelimitation)
            {
                pos += 8;
                if (itemUndefined || topLevel)
                    return pos;
                continue;
            }
            if (topLevel && stopAtPixelData && tag >= DicomTags.PixelData)
                return pos;

            var start = pos;
            string vr;
            long length;
            int header;
            if (explicitVr && IsVrBytes(pos + 4))
            {
                vr = VrAt(pos + 4);
                if (LongLengthVrs.Contains(vr))
                {
                    if (end - pos < 12)
                    {
                        if (partial && end == buf.Length)
                            throw new NeedMoreDataException();
                        if (topLevel)
                        {
                            MarkTruncated(ds, tag, vr, pos, end, 0, start);
                            return end;
                        }
                        throw Error($"element {tag} header runs past the end of its sequence item", pos);
                    }
                    length = U32At(pos + 8, little);
                    header = 12;
                }
                else
                {
                    length = U16At(pos + 6, little);
                    header = 8;
                }
            }
            else
            {
                // Implicit VR, or explicit VR whose VR bytes are not letters (pydicom reads such an element as implicit).
                vr = tag.Group == 0xFFFE ? "NONE" : DicomTags.VrOf(tag);
                length = U32At(pos + 4, little);
                header = 8;
            }
            var valuePos = pos + header;

            if (length == 0xFFFFFFFF)
            {
                if (tag == DicomTags.PixelData)
                {
                    var pixel = new DicomElement(tag, explicitVr ? vr : "OB", buf, valuePos, 0, start, undefinedLength: true);
                    pos = ReadFragments(pixel, valuePos, end, little, topLevel);
                    ds.Add(pixel);
                    if (pixel.TruncatedFrom is not null)
                        return end;
                    continue;
                }
                var isSequence = vr is "SQ" or "UN" || DicomTags.VrOf(tag) == "SQ" || NextIsItem(valuePos, end, little);
                if (isSequence)
                {
                    // An undefined-length UN element holds implicit VR little endian items (PS3.5 6.2.2).
                    var forceImplicit = vr == "UN" && explicitVr;
                    var seq = new DicomElement(tag, "SQ", buf, valuePos, 0, start, undefinedLength: true);
                    pos = ReadItems(seq, ds, valuePos, end, -1, little || forceImplicit, explicitVr && !forceImplicit, depth, forceImplicit);
                    ds.Add(seq);
                    continue;
                }
                // Any other undefined-length value ends at a sequence delimiter.
                var stop = FindSequenceDelimiter(valuePos, end, little);
                if (stop < 0)
                {
                    if (partial && end == buf.Length)
                        throw new NeedMoreDataException();
                    throw Error($"element {tag} has undefined length but no sequence delimiter follows", start);
                }
                ds.Add(new DicomElement(tag, vr, buf, valuePos, stop - valuePos, start, undefinedLength: true));
                pos = stop + 8;
                continue;
            }

            if (valuePos + length > end)
            {
                if (partial && end == buf.Length)
                    throw new NeedMoreDataException();
                if (!topLevel)
                    throw Error($"element {tag} {vr} declares {length} bytes but only {Math.Max(0, end - valuePos)} remain in its sequence item", start);
                MarkTruncated(ds, tag, vr, valuePos, end, length, start);
                return end;
            }

            var len = (int)length;
            var dictVr = DicomTags.VrOf(tag);
            if (vr == "SQ" || (vr == "UN" || !explicitVr) && dictVr == "SQ" && tag.Group != 0xFFFE)
            {
                var forceImplicit = vr == "UN" && explicitVr;
                var seq = new DicomElement(tag, "SQ", buf, valuePos, len, start, undefinedLength: false);
                ReadItems(seq, ds, valuePos, valuePos + len, valuePos + len, little || forceImplicit, explicitVr && !forceImplicit, depth, forceImplicit);
                ds.Add(seq);
            }
            else
            {
                ds.Add(new DicomElement(tag, vr, buf, valuePos, len, start, undefinedLength: false));
            }
            pos = valuePos + len;
        }
        if (itemUndefined)
        {
            if (partial && end == buf.Length)
                throw new NeedMoreDataException();
            throw Error("a sequence item of undefined length has no item delimiter before the end", pos);
        }
        return pos;
    }

    private void MarkTruncated(DicomDataset ds, DicomTag tag, string vr, int valuePos, int end, long declared, int start)
    {
        var have = Math.Max(0, end - valuePos);
        var e = new DicomElement(tag, vr, buf, Math.Min(valuePos, end), have, start, undefinedLength: false) { TruncatedFrom = declared };
        ds.Add(e);
        warnings.Add($"the file ends inside element {tag}: {declared} bytes declared at offset {start}, {have} present");
    }

    private bool NextIsItem(int pos, int end, bool little) => end - pos >= 4 && TagAt(pos, little) == DicomTags.Item;

    private int FindSequenceDelimiter(int pos, int end, bool little)
    {
        for (var p = pos; p + 8 <= end; p++)
        {
            if (TagAt(p, little) == DicomTags.SequenceDelimitation && U32At(p + 4, little) == 0)
                return p;
        }
        return -1;
    }

    /// <summary>Reads sequence items from <paramref name="pos"/>; <paramref name="definedEnd"/> is -1 for an undefined length.</summary>
    private int ReadItems(DicomElement seq, DicomDataset parent, int pos, int end, int definedEnd, bool little, bool explicitVr, int depth, bool forceImplicit)
    {
        var items = new List<DicomDataset>();
        while (true)
        {
            if (definedEnd >= 0 && pos >= definedEnd)
                break;
            if (end - pos < 8)
            {
                if (partial && end == buf.Length)
                    throw new NeedMoreDataException();
                throw Error($"sequence {seq.Tag} ends before its sequence delimiter", pos);
            }
            var tag = TagAt(pos, little);
            var length = U32At(pos + 4, little);
            if (tag == DicomTags.SequenceDelimitation)
            {
                pos += 8;
                break;
            }
            if (tag != DicomTags.Item)
                warnings.Add($"expected an item tag in sequence {seq.Tag} at offset {pos}, found {tag}; read as an item");
            var itemStart = pos + 8;
            var itemExplicit = !forceImplicit && DetectExplicit(itemStart, end, little, explicitVr, topLevel: false);
            var item = new DicomDataset(name, little, itemExplicit, parent);
            if (length == 0xFFFFFFFF)
            {
                pos = ReadElements(item, itemStart, end, little, itemExplicit, depth + 1, itemUndefined: true, metaOnly: false);
            }
            else
            {
                var itemEnd = itemStart + (long)length;
                if (itemEnd > end)
                {
                    if (partial && end == buf.Length)
                        throw new NeedMoreDataException();
                    // pydicom parses a sequence from its value bytes, so an item that overruns them just ends there.
                    warnings.Add($"an item of sequence {seq.Tag} at offset {pos} declares {length} bytes but only {end - itemStart} remain; read up to the end of the sequence");
                    itemEnd = end;
                }
                ReadElements(item, itemStart, (int)itemEnd, little, itemExplicit, depth + 1, itemUndefined: false, metaOnly: false);
                pos = (int)itemEnd;
            }
            items.Add(item);
        }
        seq.Items = items;
        return pos;
    }

    /// <summary>Encapsulated pixel data: items (the Basic Offset Table, then fragments) up to the sequence delimiter.</summary>
    private int ReadFragments(DicomElement pixel, int pos, int end, bool little, bool topLevel)
    {
        var fragments = new List<DicomFragment>();
        pixel.Fragments = fragments;
        while (true)
        {
            if (end - pos < 8)
            {
                if (partial && end == buf.Length)
                    throw new NeedMoreDataException();
                if (!topLevel)
                    throw Error("encapsulated pixel data in a sequence item runs past the item", pos);
                pixel.TruncatedFrom = -1;
                warnings.Add($"the file ends inside the encapsulated pixel data at offset {pos}");
                return end;
            }
            var tag = TagAt(pos, little);
            var length = U32At(pos + 4, little);
            if (tag == DicomTags.SequenceDelimitation)
                return pos + 8;
            if (tag != DicomTags.Item)
                throw Error($"expected an item tag (FFFE,E000) in the encapsulated pixel data, found {tag}", pos);
            if (length == 0xFFFFFFFF)
                throw Error("a pixel data fragment has undefined length", pos);
            if (pos + 8 + (long)length > end)
            {
                if (partial && end == buf.Length)
                    throw new NeedMoreDataException();
                if (!topLevel)
                    throw Error("encapsulated pixel data in a sequence item runs past the item", pos);
                pixel.TruncatedFrom = -1;
                fragments.Add(new DicomFragment(pos + 8, end - pos - 8));
                warnings.Add($"the file ends inside a pixel data fragment that declares {length} bytes at offset {pos}");
                return end;
            }
            fragments.Add(new DicomFragment(pos + 8, (int)length));
            pos += 8 + (int)length;
        }
    }
}
