namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// A DICOM file that cannot be read or decoded: names the file, the problem and, where one applies, the byte offset.
/// It is an <see cref="IOException"/>, so the data loader records the item as skipped and goes on.
/// </summary>
public sealed class DicomException : IOException
{
    public DicomException()
    {
        Path = string.Empty;
        Reason = string.Empty;
    }

    public DicomException(string message)
        : base(message)
    {
        Path = string.Empty;
        Reason = message;
    }

    public DicomException(string message, Exception inner)
        : base(message, inner)
    {
        Path = string.Empty;
        Reason = message;
    }

    public DicomException(string path, string reason, long? offset, Exception? inner = null)
        : base(Format(path, reason, offset), inner)
    {
        Path = path;
        Reason = reason;
        Offset = offset;
    }

    /// <summary>The file (or the name given for in-memory data).</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the file name or offset.</summary>
    public string Reason { get; }

    /// <summary>Byte offset in the file where the problem was found (for a deflated dataset: in the inflated stream); null when none applies.</summary>
    public long? Offset { get; }

    /// <summary>The reason with its offset, as <see cref="ImageDecodeException.Reason"/> shows it.</summary>
    public string ReasonWithOffset => Offset is { } o ? $"{Reason} (at byte {o})" : Reason;

    private static string Format(string path, string reason, long? offset) =>
        offset is { } o ? $"Cannot read DICOM '{path}': {reason} (at byte {o})" : $"Cannot read DICOM '{path}': {reason}";
}
