using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>One fragment of encapsulated pixel data: where its bytes are in the element's buffer.</summary>
public readonly record struct DicomFragment(int Offset, int Length);

/// <summary>
/// A data element as read: its tag, VR (explicit, or from the dictionary for implicit VR; "UN" when unknown), where its
/// value lies in the buffer, and its items (sequences) or fragments (encapsulated pixel data).
/// </summary>
public sealed class DicomElement
{
    private readonly byte[] buffer;

    internal DicomElement(DicomTag tag, string vr, byte[] buffer, int offset, int length, long position, bool undefinedLength)
    {
        Tag = tag;
        Vr = vr;
        this.buffer = buffer;
        Offset = offset;
        Length = length;
        Position = position;
        UndefinedLength = undefinedLength;
    }

    public DicomTag Tag { get; }

    public string Vr { get; }

    /// <summary>Start of the value in the buffer.</summary>
    public int Offset { get; }

    /// <summary>Bytes of value present (less than declared when the file is truncated).</summary>
    public int Length { get; }

    /// <summary>Byte offset of the element's tag in the file (or in the inflated stream of a deflated dataset).</summary>
    public long Position { get; }

    public bool UndefinedLength { get; }

    /// <summary>
    /// Set when the file ends inside this element: its declared value length, or -1 for encapsulated pixel data (whose
    /// length is undefined); null for a complete element.
    /// </summary>
    public long? TruncatedFrom { get; internal set; }

    /// <summary>Items of a sequence; null for other elements.</summary>
    public IReadOnlyList<DicomDataset>? Items { get; internal set; }

    /// <summary>Fragments of encapsulated pixel data, the Basic Offset Table first; null when not encapsulated.</summary>
    public IReadOnlyList<DicomFragment>? Fragments { get; internal set; }

    public ReadOnlySpan<byte> Value => buffer.AsSpan(Offset, Length);

    internal byte[] Buffer => buffer;

    public ReadOnlySpan<byte> FragmentBytes(DicomFragment f) => buffer.AsSpan(f.Offset, f.Length);

    /// <summary>The VR used to interpret the value: the dictionary's for UN elements, as pydicom does when it knows the tag.</summary>
    public string EffectiveVr => Vr == "UN" ? DicomTags.VrOf(Tag) : Vr;
}

/// <summary>
/// A DICOM dataset (the file's main dataset, its file meta group, or a sequence item): elements by tag in file order, and
/// typed accessors that follow pydicom's reading of values (strings trimmed of trailing spaces and NULs, DS/IS parsed,
/// binary numbers in the dataset's byte order).
/// </summary>
public sealed class DicomDataset
{
    private readonly Dictionary<uint, DicomElement> elements = [];
    private readonly List<DicomElement> order = [];
    private Encoding? text;

    internal DicomDataset(string name, bool littleEndian, bool explicitVr, DicomDataset? parent)
    {
        Name = name;
        LittleEndian = littleEndian;
        ExplicitVr = explicitVr;
        Parent = parent;
    }

    /// <summary>The file this dataset came from (used in error messages).</summary>
    public string Name { get; }

    public bool LittleEndian { get; }

    public bool ExplicitVr { get; }

    public DicomDataset? Parent { get; }

    public IReadOnlyList<DicomElement> Elements => order;

    public int Count => order.Count;

    internal void Add(DicomElement e)
    {
        // A repeated tag replaces the earlier one, as in pydicom.
        if (elements.TryGetValue(e.Tag.Value, out var old))
            order.Remove(old);
        elements[e.Tag.Value] = e;
        order.Add(e);
    }

    public bool Contains(DicomTag tag) => elements.ContainsKey(tag.Value);

    public DicomElement? Get(DicomTag tag) => elements.GetValueOrDefault(tag.Value);

    /// <summary>The text encoding of this dataset's strings, from (0008,0005) here or in a parent; Latin-1 by default.</summary>
    public Encoding TextEncoding => text ??= ResolveEncoding();

    /// <summary>The first value of a string element, trimmed; null when absent or empty.</summary>
    public string? GetString(DicomTag tag)
    {
        var all = GetStrings(tag);
        return all.Length == 0 || all[0].Length == 0 ? null : all[0];
    }

    /// <summary>All values of a string element (split on backslash), each trimmed of padding.</summary>
    public string[] GetStrings(DicomTag tag)
    {
        var e = Get(tag);
        if (e is null || e.Length == 0)
            return [];
        var s = (IsText(e.EffectiveVr) && e.EffectiveVr is not ("UI" or "CS" or "DS" or "IS" or "AE" or "DA" or "TM" or "DT" or "AS") ? TextEncoding : Encoding.Latin1).GetString(e.Value);
        // UT, ST, LT and UR are single-valued: a backslash is part of the text.
        var parts = e.EffectiveVr is "UT" or "ST" or "LT" or "UR" ? [s] : s.Split('\\');
        for (var i = 0; i < parts.Length; i++)
            parts[i] = parts[i].TrimEnd(' ', '\0');
        if (e.EffectiveVr is "DS" or "IS" or "UI" or "CS" or "AE" or "DA" or "TM" or "DT")
        {
            for (var i = 0; i < parts.Length; i++)
                parts[i] = parts[i].Trim(' ', '\0');
        }
        return parts;
    }

    /// <summary>An integer from a binary (US, SS, UL, SL) or text (IS) element; null when absent or empty.</summary>
    public long? GetInt(DicomTag tag)
    {
        var v = GetInts(tag);
        return v.Length == 0 ? null : v[0];
    }

    /// <summary>Every integer value of a binary or IS element.</summary>
    public long[] GetInts(DicomTag tag)
    {
        var e = Get(tag);
        if (e is null || e.Length == 0)
            return [];
        switch (e.EffectiveVr)
        {
            case "US":
                return ReadBinary<long>(e, 2, (s, le) => le ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s));
            case "SS":
                return ReadBinary<long>(e, 2, (s, le) => le ? BinaryPrimitives.ReadInt16LittleEndian(s) : BinaryPrimitives.ReadInt16BigEndian(s));
            case "UL":
                return ReadBinary<long>(e, 4, (s, le) => le ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s));
            case "SL":
                return ReadBinary<long>(e, 4, (s, le) => le ? BinaryPrimitives.ReadInt32LittleEndian(s) : BinaryPrimitives.ReadInt32BigEndian(s));
            case "IS":
            case "DS":
                return GetStrings(tag).Where(p => p.Length > 0).Select(p => ParseInteger(tag, p)).ToArray();
            default:
                throw new DicomException(Name, $"element {tag} has VR {e.Vr}, not an integer", e.Position);
        }
    }

    /// <summary>The first number of a DS, IS, FL, FD or integer element; null when absent or empty.</summary>
    public double? GetDouble(DicomTag tag)
    {
        var v = GetDoubles(tag);
        return v.Length == 0 ? null : v[0];
    }

    /// <summary>Every number of a DS, IS, FL, FD or binary integer element.</summary>
    public double[] GetDoubles(DicomTag tag)
    {
        var e = Get(tag);
        if (e is null || e.Length == 0)
            return [];
        switch (e.EffectiveVr)
        {
            case "DS":
            case "IS":
                return GetStrings(tag).Where(p => p.Length > 0).Select(p => ParseDecimal(tag, p)).ToArray();
            case "FL":
                return ReadBinary<double>(e, 4, (s, le) => le ? BinaryPrimitives.ReadSingleLittleEndian(s) : BinaryPrimitives.ReadSingleBigEndian(s));
            case "FD":
                return ReadBinary<double>(e, 8, (s, le) => le ? BinaryPrimitives.ReadDoubleLittleEndian(s) : BinaryPrimitives.ReadDoubleBigEndian(s));
            default:
                return GetInts(tag).Select(v => (double)v).ToArray();
        }
    }

    /// <summary>The items of a sequence element; empty when absent or not a sequence.</summary>
    public IReadOnlyList<DicomDataset> GetItems(DicomTag tag) => Get(tag)?.Items ?? [];

    /// <summary>The raw value bytes (in the dataset's byte order); empty when absent.</summary>
    public ReadOnlySpan<byte> GetBytes(DicomTag tag) => Get(tag) is { } e ? e.Value : [];

    private T[] ReadBinary<T>(DicomElement e, int size, Func<ReadOnlySpan<byte>, bool, T> read)
    {
        var span = e.Value;
        var n = span.Length / size;
        var result = new T[n];
        for (var i = 0; i < n; i++)
            result[i] = read(span.Slice(i * size, size), LittleEndian);
        return result;
    }

    private static bool IsText(string vr) => vr is "AE" or "AS" or "CS" or "DA" or "DS" or "DT" or "IS" or "LO" or "LT" or "PN" or "SH" or "ST" or "TM" or "UC" or "UI" or "UR" or "UT";

    private long ParseInteger(DicomTag tag, string s)
    {
        // pydicom's IS accepts a decimal with no fractional part, such as "1.0".
        var d = ParseDecimal(tag, s);
        if (d != Math.Floor(d) || Math.Abs(d) > 9.0e15)
            throw new DicomException(Name, $"element {tag} holds '{s}', not an integer", Get(tag)?.Position);
        return (long)d;
    }

    private double ParseDecimal(DicomTag tag, string s)
    {
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return d;
        throw new DicomException(Name, $"element {tag} holds '{s}', not a number", Get(tag)?.Position);
    }

    private Encoding ResolveEncoding()
    {
        if (Contains(DicomTags.SpecificCharacterSet))
        {
            var terms = GetStrings(DicomTags.SpecificCharacterSet);
            var term = terms.Length > 0 ? terms[0] : string.Empty;
            // Code extensions (ISO 2022 escape sequences) are not interpreted; their default repertoire is ASCII.
            if (term.Length == 0 && terms.Length > 1)
                term = terms[1];
            return EncodingFor(term);
        }
        return Parent?.TextEncoding ?? Encoding.Latin1;
    }

    internal static Encoding EncodingFor(string term)
    {
        var name = term.Replace("ISO 2022 ", "ISO_", StringComparison.Ordinal) switch
        {
            "ISO_IR 192" => "utf-8",
            "ISO_IR 101" or "ISO_IR_101" => "iso-8859-2",
            "ISO_IR 109" or "ISO_IR_109" => "iso-8859-3",
            "ISO_IR 110" or "ISO_IR_110" => "iso-8859-4",
            "ISO_IR 144" or "ISO_IR_144" => "iso-8859-5",
            "ISO_IR 127" or "ISO_IR_127" => "iso-8859-6",
            "ISO_IR 126" or "ISO_IR_126" => "iso-8859-7",
            "ISO_IR 138" or "ISO_IR_138" => "iso-8859-8",
            "ISO_IR 148" or "ISO_IR_148" => "iso-8859-9",
            "ISO_IR 203" or "ISO_IR_203" => "iso-8859-15",
            "ISO_IR 166" or "ISO_IR_166" => "windows-874",
            "GB18030" => "gb18030",
            "GBK" => "gbk",
            _ => "latin1",
        };
        if (name == "utf-8")
            return Encoding.UTF8;
        if (name == "latin1")
            return Encoding.Latin1;
        try
        {
            Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            return Encoding.Latin1;
        }
    }
}
