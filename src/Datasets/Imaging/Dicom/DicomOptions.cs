using System.Globalization;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>Which VOI transform (windowing) to apply after the modality LUT.</summary>
public readonly record struct VoiSelection
{
    private VoiSelection(int index, double center, double width, bool none)
    {
        Index = index;
        Center = center;
        Width = width;
        IsNone = none;
    }

    /// <summary>The file's first window (or first VOI LUT); the full stored range when it has none.</summary>
    public static VoiSelection First => new(0, double.NaN, double.NaN, false);

    /// <summary>No VOI: the modality values scaled over the full range the stored bits allow.</summary>
    public static VoiSelection None => new(-1, double.NaN, double.NaN, true);

    /// <summary>The file's window (or VOI LUT) number <paramref name="index"/>, 0-based as pydicom's <c>index</c>.</summary>
    public static VoiSelection FromIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new(index, double.NaN, double.NaN, false);
    }

    /// <summary>An explicit linear window in modality units (after rescale).</summary>
    public static VoiSelection Explicit(double center, double width) => new(-1, center, width, false);

    /// <summary>The window index, or -1 for <see cref="None"/> and explicit windows.</summary>
    public int Index { get; }

    public double Center { get; }

    public double Width { get; }

    public bool IsNone { get; }

    public bool IsExplicit => !IsNone && Index < 0;

    /// <summary>Parses the <c>--window</c> forms: <c>N</c> (0-based index), <c>none</c>, or <c>C,W</c>.</summary>
    public static VoiSelection Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.Equals("none", StringComparison.OrdinalIgnoreCase))
            return None;
        if (t.Equals("first", StringComparison.OrdinalIgnoreCase))
            return First;
        var parts = t.Split(',');
        if (parts.Length == 1 && int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) && index >= 0)
            return FromIndex(index);
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var c)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var w) && w > 0)
            return Explicit(c, w);
        throw new FormatException($"'{text}' is not a window: use N (0-based window index), none, or C,W (center,width with width > 0)");
    }

    public override string ToString() => IsNone ? "none" : IsExplicit
        ? string.Create(CultureInfo.InvariantCulture, $"{Center},{Width}")
        : Index.ToString(CultureInfo.InvariantCulture);
}

/// <summary>How windowed values are mapped to the numbers the model sees.</summary>
public enum DicomValueRange
{
    /// <summary>[0, 1]: the VOI output range (pydicom's y_min..y_max) mapped linearly to 0..1, MONOCHROME1 inverted (1 - v).</summary>
    Unit,

    /// <summary>
    /// [-1024, 1024], TorchXRayVision's convention (<c>xrv.datasets.normalize</c>): 2048 × the <see cref="Unit"/> value − 1024.
    /// Models trained this way take the values as they are: use mean 0 and std 1 in the pipeline's normalisation.
    /// (TorchXRayVision's own read_xray_dcm scales by the image's maximum; this mapping is data-independent.)
    /// </summary>
    Xrv,
}

/// <summary>How DICOM files are read and turned into model input.</summary>
public sealed record DicomOptions
{
    /// <summary>Frame of a multi-frame file to load (0-based; default the first).</summary>
    public int Frame { get; init; }

    /// <summary>The VOI transform: the first window by default.</summary>
    public VoiSelection Window { get; init; } = VoiSelection.First;

    /// <summary>Value convention of the decoded image (default [0, 1]).</summary>
    public DicomValueRange Range { get; init; } = DicomValueRange.Unit;

    /// <summary>Largest file read (bytes); larger files are refused before they are read. Also caps an inflated deflated dataset.</summary>
    public long MaxFileBytes { get; init; } = DicomFile.DefaultMaxFileBytes;

    /// <summary>Largest rows × columns of a frame; larger declared sizes are refused before pixels are allocated.</summary>
    public long MaxPixels { get; init; } = 178_956_970;

    public static DicomOptions Default { get; } = new();
}
