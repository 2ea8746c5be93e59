namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// A parsed DICOM file: its file meta group, main dataset and transfer syntax, with its pixel data decoded on request.
/// Open a file with <see cref="Open"/>, or only its header (stopping before the pixel data, reading just the start of the
/// file) with <see cref="OpenHeader"/>.
/// </summary>
public sealed class DicomFile
{
    /// <summary>Largest file read by default (1 GiB): a limit on memory, not a DICOM rule; <see cref="DicomOptions.MaxFileBytes"/> changes it.</summary>
    public const long DefaultMaxFileBytes = 1L << 30;

    private DicomInfo? info;

    internal DicomFile(string name, bool hasPreamble, DicomDataset meta, DicomDataset dataset, TransferSyntax transferSyntax, IReadOnlyList<string> warnings, bool deflated)
    {
        Name = name;
        HasPreamble = hasPreamble;
        Meta = meta;
        Dataset = dataset;
        TransferSyntax = transferSyntax;
        Warnings = warnings;
        Deflated = deflated;
    }

    /// <summary>The path or name errors use.</summary>
    public string Name { get; }

    /// <summary>True for a Part 10 file (preamble and "DICM"); false for a raw dataset.</summary>
    public bool HasPreamble { get; }

    public DicomDataset Meta { get; }

    public DicomDataset Dataset { get; }

    public TransferSyntax TransferSyntax { get; }

    /// <summary>Deviations read past, as pydicom warns about them (missing meta, VR mismatch, truncation).</summary>
    public IReadOnlyList<string> Warnings { get; }

    internal bool Deflated { get; }

    /// <summary>The attributes experiments use (patient, study, series, view, modality, geometry, pixel format).</summary>
    public DicomInfo Info => info ??= DicomInfo.From(this);

    /// <summary>True when the file starts like DICOM: "DICM" at offset 128, or a .dcm/.dicom extension.</summary>
    public static bool LooksLikeDicom(ReadOnlySpan<byte> data, string? path) =>
        DicomParser.HasPart10Magic(data) || HasDicomExtension(path);

    /// <summary>True for a .dcm or .dicom extension (any case).</summary>
    public static bool HasDicomExtension(string? path)
    {
        var ext = Path.GetExtension(path ?? string.Empty);
        return ext.Equals(".dcm", StringComparison.OrdinalIgnoreCase) || ext.Equals(".dicom", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Reads and parses a whole file.</summary>
    public static DicomFile Open(string path, DicomOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= DicomOptions.Default;
        byte[] data;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > options.MaxFileBytes)
                throw new DicomException(path, $"the file is {length} bytes, over the limit of {options.MaxFileBytes} bytes", null);
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException and not DicomException or UnauthorizedAccessException)
        {
            throw new DicomException(path, $"cannot read the file ({e.Message})", null, e);
        }
        return Parse(data, path, options);
    }

    /// <summary>Parses in-memory file bytes; <paramref name="name"/> is what errors call the data.</summary>
    public static DicomFile Parse(byte[] data, string name, DicomOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= DicomOptions.Default;
        return DicomParser.Parse(data, name, options.MaxFileBytes);
    }

    /// <summary>
    /// Reads only the header: elements before the pixel data, from as much of the start of the file as they need (64 KiB
    /// first, more when the header is longer). Used to read patient ids for splits without reading whole images.
    /// </summary>
    public static DicomFile OpenHeader(string path, DicomOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= DicomOptions.Default;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var total = stream.Length;
            if (total > options.MaxFileBytes)
                throw new DicomException(path, $"the file is {total} bytes, over the limit of {options.MaxFileBytes} bytes", null);
            var want = (int)Math.Min(total, 1 << 16);
            while (true)
            {
                var data = new byte[want];
                stream.Position = 0;
                stream.ReadExactly(data);
                var whole = want == total;
                try
                {
                    return DicomParser.Parse(data, path, options.MaxFileBytes, partial: !whole, stopAtPixelData: true);
                }
                catch (DicomParser.NeedMoreDataException) when (!whole)
                {
                    want = (int)Math.Min(total, (long)want * 8);
                }
            }
        }
        catch (Exception e) when (e is IOException and not DicomException or UnauthorizedAccessException)
        {
            throw new DicomException(path, $"cannot read the file ({e.Message})", null, e);
        }
    }

    /// <summary>Number of frames (Number of Frames, 1 when absent).</summary>
    public int FrameCount => Info.Frames;

    /// <summary>
    /// The stored pixel values of every frame, as pydicom's <c>pixel_array</c> returns them: before any LUT, in the
    /// Bits Allocated / Pixel Representation type, colour as samples per pixel (YBR stays YBR).
    /// </summary>
    public PixelArray ReadPixels(DicomOptions? options = null) => PixelDecoder.Decode(this, null, options ?? DicomOptions.Default);

    /// <summary>The stored pixel values of one frame (0-based).</summary>
    public PixelArray ReadFrame(int frame, DicomOptions? options = null)
    {
        if (frame < 0 || frame >= FrameCount)
            throw new DicomException(Name, $"frame {frame} does not exist (the file has {FrameCount} frame{(FrameCount == 1 ? "" : "s")})", null);
        return PixelDecoder.Decode(this, frame, options ?? DicomOptions.Default);
    }
}
