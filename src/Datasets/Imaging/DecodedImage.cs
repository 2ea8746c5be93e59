namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// A decoded image with what a batch job records about it: the detected format, the size stored in the file (before
/// orientation and any reduced-scale decoding), the EXIF orientation that was found, the codec that decoded it and the
/// decoder's warnings (a JPEG with a premature end or extraneous bytes decodes, as libjpeg-turbo and Pillow do, and
/// says so here).
/// </summary>
public sealed record DecodedImage(
    ImageBuffer Image,
    string Format,
    int Width,
    int Height,
    int Orientation,
    string Codec,
    IReadOnlyList<string> Warnings)
{
    /// <summary>The warnings joined into one line; null when there are none.</summary>
    public string? WarningText => Warnings.Count == 0 ? null : string.Join("; ", Warnings);
}
