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
        // A malformed attribute (a DS that is not a number, say) leaves that field empty instead of failing the whole
        // header: the pixel decoder checks what it needs itself and names the problem.
        static T Try<T>(Func<T> read, T fallback)
        {
            try
            {
                return read();
            }
            catch (DicomException)
            {
                return fallback;
            }
        }
        string? Str(DicomTag t) => Try(() => ds.GetString(t), null);
        int Int(DicomTag t) => Try(() => ds.GetInt(t) is { } v ? (int)Math.Clamp(v, int.MinValue, int.MaxValue) : 0, 0);
        IReadOnlyList<double> Doubles(DicomTag t) => Try<IReadOnlyList<double>>(() => ds.GetDoubles(t), []);
        var spacing = Doubles(DicomTags.PixelSpacing);
        if (spacing.Count == 0)
            spacing = Doubles(DicomTags.ImagerPixelSpacing);
        return new DicomInfo
        {
            PatientId = Str(DicomTags.PatientId),
            PatientName = Str(DicomTags.PatientName),
            StudyInstanceUid = Str(DicomTags.StudyInstanceUid),
            SeriesInstanceUid = Str(DicomTags.SeriesInstanceUid),
            SopInstanceUid = Str(DicomTags.SopInstanceUid),
            SopClassUid = Str(DicomTags.SopClassUid) ?? Try(() => file.Meta.GetString(DicomTags.MediaStorageSopClassUid), null),
            Modality = Str(DicomTags.Modality),
            ViewPosition = Str(DicomTags.ViewPosition),
            BodyPartExamined = Str(DicomTags.BodyPartExamined),
            Laterality = Str(DicomTags.ImageLaterality) ?? Str(DicomTags.Laterality),
            StudyDate = Str(DicomTags.StudyDate),
            Manufacturer = Str(DicomTags.Manufacturer),
            PixelSpacing = spacing,
            Rows = Int(DicomTags.Rows),
            Columns = Int(DicomTags.Columns),
            Frames = ds.Contains(DicomTags.NumberOfFrames) && Int(DicomTags.NumberOfFrames) is > 0 and var f ? f : 1,
            SamplesPerPixel = Int(DicomTags.SamplesPerPixel),
            BitsAllocated = Int(DicomTags.BitsAllocated),
            BitsStored = Int(DicomTags.BitsStored),
            PixelRepresentation = Int(DicomTags.PixelRepresentation),
            PhotometricInterpretation = Str(DicomTags.PhotometricInterpretation),
            TransferSyntaxUid = file.TransferSyntax.Uid,
            TransferSyntaxName = file.TransferSyntax.Name,
            WindowCenters = Doubles(DicomTags.WindowCenter),
            WindowWidths = Doubles(DicomTags.WindowWidth),
            RescaleSlope = Try(() => ds.GetDouble(DicomTags.RescaleSlope), null),
            RescaleIntercept = Try(() => ds.GetDouble(DicomTags.RescaleIntercept), null),
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
