namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>A data element tag (group, element), ordered as DICOM orders them.</summary>
public readonly record struct DicomTag(ushort Group, ushort Element) : IComparable<DicomTag>
{
    public DicomTag(uint value)
        : this((ushort)(value >> 16), (ushort)value)
    {
    }

    public uint Value => ((uint)Group << 16) | Element;

    /// <summary>Odd groups are private (PS3.5 7.8).</summary>
    public bool IsPrivate => (Group & 1) == 1;

    public int CompareTo(DicomTag other) => Value.CompareTo(other.Value);

    public override string ToString() => $"({Group:X4},{Element:X4})";

    public static bool operator <(DicomTag a, DicomTag b) => a.Value < b.Value;

    public static bool operator >(DicomTag a, DicomTag b) => a.Value > b.Value;

    public static bool operator <=(DicomTag a, DicomTag b) => a.Value <= b.Value;

    public static bool operator >=(DicomTag a, DicomTag b) => a.Value >= b.Value;
}

/// <summary>The tags this reader uses, with the VR the dictionary gives them (needed to read implicit VR datasets).</summary>
public static class DicomTags
{
    public static readonly DicomTag FileMetaGroupLength = new(0x0002, 0x0000);
    public static readonly DicomTag MediaStorageSopClassUid = new(0x0002, 0x0002);
    public static readonly DicomTag TransferSyntaxUid = new(0x0002, 0x0010);
    public static readonly DicomTag SpecificCharacterSet = new(0x0008, 0x0005);
    public static readonly DicomTag SopClassUid = new(0x0008, 0x0016);
    public static readonly DicomTag SopInstanceUid = new(0x0008, 0x0018);
    public static readonly DicomTag StudyDate = new(0x0008, 0x0020);
    public static readonly DicomTag Modality = new(0x0008, 0x0060);
    public static readonly DicomTag Manufacturer = new(0x0008, 0x0070);
    public static readonly DicomTag PatientName = new(0x0010, 0x0010);
    public static readonly DicomTag PatientId = new(0x0010, 0x0020);
    public static readonly DicomTag PatientSex = new(0x0010, 0x0040);
    public static readonly DicomTag BodyPartExamined = new(0x0018, 0x0015);
    public static readonly DicomTag ViewPosition = new(0x0018, 0x5101);
    public static readonly DicomTag ImagerPixelSpacing = new(0x0018, 0x1164);
    public static readonly DicomTag StudyInstanceUid = new(0x0020, 0x000D);
    public static readonly DicomTag SeriesInstanceUid = new(0x0020, 0x000E);
    public static readonly DicomTag Laterality = new(0x0020, 0x0060);
    public static readonly DicomTag ImageLaterality = new(0x0020, 0x0062);
    public static readonly DicomTag SamplesPerPixel = new(0x0028, 0x0002);
    public static readonly DicomTag PhotometricInterpretation = new(0x0028, 0x0004);
    public static readonly DicomTag PlanarConfiguration = new(0x0028, 0x0006);
    public static readonly DicomTag NumberOfFrames = new(0x0028, 0x0008);
    public static readonly DicomTag Rows = new(0x0028, 0x0010);
    public static readonly DicomTag Columns = new(0x0028, 0x0011);
    public static readonly DicomTag PixelSpacing = new(0x0028, 0x0030);
    public static readonly DicomTag BitsAllocated = new(0x0028, 0x0100);
    public static readonly DicomTag BitsStored = new(0x0028, 0x0101);
    public static readonly DicomTag HighBit = new(0x0028, 0x0102);
    public static readonly DicomTag PixelRepresentation = new(0x0028, 0x0103);
    public static readonly DicomTag WindowCenter = new(0x0028, 0x1050);
    public static readonly DicomTag WindowWidth = new(0x0028, 0x1051);
    public static readonly DicomTag RescaleIntercept = new(0x0028, 0x1052);
    public static readonly DicomTag RescaleSlope = new(0x0028, 0x1053);
    public static readonly DicomTag RescaleType = new(0x0028, 0x1054);
    public static readonly DicomTag WindowCenterWidthExplanation = new(0x0028, 0x1055);
    public static readonly DicomTag VoiLutFunction = new(0x0028, 0x1056);
    public static readonly DicomTag RedPaletteDescriptor = new(0x0028, 0x1101);
    public static readonly DicomTag GreenPaletteDescriptor = new(0x0028, 0x1102);
    public static readonly DicomTag BluePaletteDescriptor = new(0x0028, 0x1103);
    public static readonly DicomTag RedPaletteData = new(0x0028, 0x1201);
    public static readonly DicomTag GreenPaletteData = new(0x0028, 0x1202);
    public static readonly DicomTag BluePaletteData = new(0x0028, 0x1203);
    public static readonly DicomTag SegmentedRedPaletteData = new(0x0028, 0x1221);
    public static readonly DicomTag ModalityLutSequence = new(0x0028, 0x3000);
    public static readonly DicomTag LutDescriptor = new(0x0028, 0x3002);
    public static readonly DicomTag LutExplanation = new(0x0028, 0x3003);
    public static readonly DicomTag ModalityLutType = new(0x0028, 0x3004);
    public static readonly DicomTag LutData = new(0x0028, 0x3006);
    public static readonly DicomTag VoiLutSequence = new(0x0028, 0x3010);
    public static readonly DicomTag ExtendedOffsetTable = new(0x7FE0, 0x0001);
    public static readonly DicomTag ExtendedOffsetTableLengths = new(0x7FE0, 0x0002);
    public static readonly DicomTag FloatPixelData = new(0x7FE0, 0x0008);
    public static readonly DicomTag DoubleFloatPixelData = new(0x7FE0, 0x0009);
    public static readonly DicomTag PixelData = new(0x7FE0, 0x0010);
    public static readonly DicomTag Item = new(0xFFFE, 0xE000);
    public static readonly DicomTag ItemDelimitation = new(0xFFFE, 0xE00D);
    public static readonly DicomTag SequenceDelimitation = new(0xFFFE, 0xE0DD);

    /// <summary>
    /// VRs for implicit VR datasets: only the tags this reader interprets, and sequences it must descend into. Other
    /// tags read as UN, which is enough: their bytes are kept and skipped, never interpreted.
    /// </summary>
    private static readonly Dictionary<uint, string> Vrs = new()
    {
        [TransferSyntaxUid.Value] = "UI", [MediaStorageSopClassUid.Value] = "UI", [SpecificCharacterSet.Value] = "CS",
        [SopClassUid.Value] = "UI", [SopInstanceUid.Value] = "UI", [StudyDate.Value] = "DA", [Modality.Value] = "CS",
        [Manufacturer.Value] = "LO", [PatientName.Value] = "PN", [PatientId.Value] = "LO", [PatientSex.Value] = "CS",
        [BodyPartExamined.Value] = "CS", [ViewPosition.Value] = "CS", [ImagerPixelSpacing.Value] = "DS",
        [StudyInstanceUid.Value] = "UI", [SeriesInstanceUid.Value] = "UI", [Laterality.Value] = "CS", [ImageLaterality.Value] = "CS",
        [SamplesPerPixel.Value] = "US", [PhotometricInterpretation.Value] = "CS", [PlanarConfiguration.Value] = "US",
        [NumberOfFrames.Value] = "IS", [Rows.Value] = "US", [Columns.Value] = "US", [PixelSpacing.Value] = "DS",
        [BitsAllocated.Value] = "US", [BitsStored.Value] = "US", [HighBit.Value] = "US", [PixelRepresentation.Value] = "US",
        [WindowCenter.Value] = "DS", [WindowWidth.Value] = "DS", [RescaleIntercept.Value] = "DS", [RescaleSlope.Value] = "DS",
        [RescaleType.Value] = "LO", [WindowCenterWidthExplanation.Value] = "LO", [VoiLutFunction.Value] = "CS",
        // "US or SS": read as US here; the LUT code applies the signedness rules itself.
        [RedPaletteDescriptor.Value] = "US", [GreenPaletteDescriptor.Value] = "US", [BluePaletteDescriptor.Value] = "US",
        [RedPaletteData.Value] = "OW", [GreenPaletteData.Value] = "OW", [BluePaletteData.Value] = "OW",
        [SegmentedRedPaletteData.Value] = "OW", [0x00281222] = "OW", [0x00281223] = "OW",
        [LutDescriptor.Value] = "US", [LutExplanation.Value] = "LO", [ModalityLutType.Value] = "LO", [LutData.Value] = "OW",
        [ModalityLutSequence.Value] = "SQ", [VoiLutSequence.Value] = "SQ",
        [ExtendedOffsetTable.Value] = "OV", [ExtendedOffsetTableLengths.Value] = "OV",
        [FloatPixelData.Value] = "OF", [DoubleFloatPixelData.Value] = "OD", [PixelData.Value] = "OW",
        // Common sequences, so that implicit VR files with defined-length sequences are parsed into items.
        [0x00081140] = "SQ", [0x00081111] = "SQ", [0x00081115] = "SQ", [0x00081199] = "SQ", [0x00082112] = "SQ",
        [0x00089215] = "SQ", [0x00400260] = "SQ", [0x00400275] = "SQ", [0x0040A730] = "SQ", [0x00540016] = "SQ",
        [0x00540220] = "SQ", [0x52009229] = "SQ", [0x52009230] = "SQ", [0x00289110] = "SQ", [0x00289145] = "SQ",
        [0x00289132] = "SQ", [0x00209113] = "SQ", [0x00209116] = "SQ", [0x00209111] = "SQ", [0x00082218] = "SQ",
        [0x00082228] = "SQ", [0x00540222] = "SQ", [0x0040A043] = "SQ", [0x0040A168] = "SQ", [0x30060010] = "SQ",
        [0x30060020] = "SQ", [0x30060039] = "SQ", [0x300A0010] = "SQ", [0x300A00B0] = "SQ", [0x300C0002] = "SQ",
    };

    /// <summary>The dictionary VR of <paramref name="tag"/>, or "UN" when this reader does not know it.</summary>
    public static string VrOf(DicomTag tag)
    {
        if (tag.Element == 0x0000)
            return "UL"; // group lengths
        return Vrs.TryGetValue(tag.Value, out var vr) ? vr : "UN";
    }
}
