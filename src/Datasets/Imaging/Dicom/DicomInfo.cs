using System.Globalization;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// The attributes experiments use, read from the header: who and what (patient, study, series, instance, modality,
/// view), geometry (rows, columns, pixel spacing in mm) and the pixel format. Missing values are null (strings) or 0.
/// </summary>
public sealed record DicomInfo
{
    public string? PatientId { get; init; }

    public string? PatientName { get; init; }

    public string? StudyInstanceUid { get; init; }

    public string? SeriesInstanceUid { get; init; }

    public string? SopInstanceUid { get; init; }

    public string? SopClassUid { get; init; }

    public string? Modality { get; init; }

    public string? ViewPosition { get; init; }

    public string? BodyPartExamined { get; init; }

    public string? Laterality { get; init; }

    public string? StudyDate { get; init; }

    public string? Manufacturer { get; init; }

    /// <summary>Pixel Spacing (0028,0030): row spacing, column spacing in mm; falls back to Imager Pixel Spacing (0018,1164).</summary>
    public IReadOnlyList<double> PixelSpacing { get; init; } = [];

    public int Rows { get; init; }

    public int Columns { get; init; }

    public int Frames { get; init; } = 1;

    public int SamplesPerPixel { get; init; }

    public int BitsAllocated { get; init; }

    public int BitsStored { get; init; }

    public int PixelRepresentation { get; init; }

    public string? PhotometricInterpretation { get; init; }

    public string TransferSyntaxUid { get; init; } = string.Empty;

    public string TransferSyntaxName { get; init; } = string.Empty;

    public IReadOnlyList<double> WindowCenters { get; init; } = [];

    public IReadOnlyList<double> WindowWidths { get; init; } = [];

    public double? RescaleSlope { get; init; }

    public double? RescaleIntercept { get; init; }

    public bool HasPixelData { get; init; }

    internal static DicomInfo From(DicomFile file)
    {
        var ds = file.Dataset;
        var spacing = ds.GetDoubles(DicomTags.PixelSpacing);
        if (spacing.Length == 0)
            spacing = ds.GetDoubles(DicomTags.ImagerPixelSpacing);
        int Int(DicomTag t) => ds.GetInt(t) is { } v ? (int)Math.Clamp(v, int.MinValue, int.MaxValue) : 0;
        return new DicomInfo
        {
            PatientId = ds.GetString(DicomTags.PatientId),
            PatientName = ds.GetString(DicomTags.PatientName),
            StudyInstanceUid = ds.GetString(DicomTags.StudyInstanceUid),
            SeriesInstanceUid = ds.GetString(DicomTags.SeriesInstanceUid),
            SopInstanceUid = ds.GetString(DicomTags.SopInstanceUid),
            SopClassUid = ds.GetString(DicomTags.SopClassUid) ?? file.Meta.GetString(DicomTags.MediaStorageSopClassUid),
            Modality = ds.GetString(DicomTags.Modality),
            ViewPosition = ds.GetString(DicomTags.ViewPosition),
            BodyPartExamined = ds.GetString(DicomTags.BodyPartExamined),
            Laterality = ds.GetString(DicomTags.ImageLaterality) ?? ds.GetString(DicomTags.Laterality),
            StudyDate = ds.GetString(DicomTags.StudyDate),
            Manufacturer = ds.GetString(DicomTags.Manufacturer),
            PixelSpacing = spacing,
            Rows = Int(DicomTags.Rows),
            Columns = Int(DicomTags.Columns),
            Frames = ds.Contains(DicomTags.NumberOfFrames) && ds.GetInt(DicomTags.NumberOfFrames) is { } f ? (int)Math.Clamp(f, int.MinValue, int.MaxValue) : 1,
            SamplesPerPixel = Int(DicomTags.SamplesPerPixel),
            BitsAllocated = Int(DicomTags.BitsAllocated),
            BitsStored = Int(DicomTags.BitsStored),
            PixelRepresentation = Int(DicomTags.PixelRepresentation),
            PhotometricInterpretation = ds.GetString(DicomTags.PhotometricInterpretation),
            TransferSyntaxUid = file.TransferSyntax.Uid,
            TransferSyntaxName = file.TransferSyntax.Name,
            WindowCenters = ds.GetDoubles(DicomTags.WindowCenter),
            WindowWidths = ds.GetDoubles(DicomTags.WindowWidth),
            RescaleSlope = ds.GetDouble(DicomTags.RescaleSlope),
            RescaleIntercept = ds.GetDouble(DicomTags.RescaleIntercept),
            HasPixelData = ds.Contains(DicomTags.PixelData),
        };
    }

    /// <summary>Column names and values for a manifest row (CSV/JSONL): the ids a patient-level split or a join needs.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ManifestFields() =>
    [
        new("patient_id", PatientId ?? string.Empty),
        new("study_uid", StudyInstanceUid ?? string.Empty),
        new("series_uid", SeriesInstanceUid ?? string.Empty),
        new("sop_uid", SopInstanceUid ?? string.Empty),
        new("modality", Modality ?? string.Empty),
        new("view_position", ViewPosition ?? string.Empty),
        new("pixel_spacing", string.Join('\\', PixelSpacing.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))),
        new("rows", Rows.ToString(CultureInfo.InvariantCulture)),
        new("columns", Columns.ToString(CultureInfo.InvariantCulture)),
    ];
}
