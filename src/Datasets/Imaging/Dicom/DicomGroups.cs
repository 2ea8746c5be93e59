namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// Patient ids for patient-level splits (no patient on both sides of a split): datasets whose items carry no group of
/// their own ask the DICOM header.
/// </summary>
public static class DicomGroups
{
    /// <summary>
    /// The Patient ID (0010,0020) of a DICOM file, read from its header only; null when the file is not DICOM (a known
    /// non-DICOM image extension, or no "DICM" at offset 128 and no .dcm/.dicom extension), has no Patient ID, or cannot
    /// be read (such a file is reported when it is loaded).
    /// </summary>
    public static string? PatientIdOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var ext = Path.GetExtension(path);
        if (!DicomFile.HasDicomExtension(path) && (ImageDecoder.Extensions.Contains(ext) || !HasMagic(path)))
            return null;
        try
        {
            return DicomFile.OpenHeader(path).Info.PatientId;
        }
        catch (DicomException)
        {
            return null;
        }
    }

    private static bool HasMagic(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 256);
            Span<byte> head = stackalloc byte[132];
            return s.ReadAtLeast(head, 132, throwOnEndOfStream: false) == 132 && DicomFile.LooksLikeDicom(head, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
