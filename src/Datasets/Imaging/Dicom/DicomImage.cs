namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// DICOM files as model input: one frame decoded, its grey levels put through the modality LUT and the VOI (window or
/// VOI LUT), then mapped to the documented value convention. <see cref="ImageDecoder"/> routes DICOM files here.
/// <para>
/// Convention (<see cref="DicomValueRange.Unit"/>, the default): monochrome values are windowed as pydicom windows them
/// (first window by default), then mapped linearly from the window's output range (pydicom's y_min..y_max: the range
/// Bits Stored allows, rescaled; 0..2^n-1 for a LUT) to [0, 1]; MONOCHROME1 is inverted (1 - v) so that bone is bright,
/// as TorchXRayVision's fix_monochrome does. With no window in the file (or <see cref="VoiSelection.None"/>) the full
/// stored range maps to [0, 1]. Colour: RGB stored values / (2^Bits Stored - 1); YBR_FULL and YBR_FULL_422 converted to
/// RGB as pydicom converts them; PALETTE COLOR through its palette. <see cref="DicomValueRange.Xrv"/> maps the same
/// [0, 1] value v to 2048 v - 1024, TorchXRayVision's [-1024, 1024] input range.
/// </para>
/// </summary>
public static class DicomImage
{
    /// <summary>Parses and decodes file bytes; every failure is an <see cref="ImageDecodeException"/> naming the file.</summary>
    public static ImageBuffer Decode(byte[] data, string name, DecodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var dicom = options.Dicom with { MaxPixels = Math.Min(options.Dicom.MaxPixels, options.MaxPixels) };
        try
        {
            return ToImage(DicomFile.Parse(data, name, dicom), dicom);
        }
        catch (DicomException e)
        {
            throw new ImageDecodeException(name, e.ReasonWithOffset, e);
        }
    }

    /// <summary>One frame of <paramref name="file"/> as a [C,H,W] buffer in the convention <paramref name="options"/> selects.</summary>
    public static ImageBuffer ToImage(DicomFile file, DicomOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        options ??= DicomOptions.Default;
        var pixels = file.ReadFrame(options.Frame, options);
        var ds = file.Dataset;
        var photometric = ds.GetString(DicomTags.PhotometricInterpretation) ?? string.Empty;
        int h = pixels.Rows, w = pixels.Columns;
        ImageBuffer image;
        if (photometric is "MONOCHROME1" or "MONOCHROME2")
        {
            var unit = MonochromeUnit(pixels, ds, options.Window, file.TransferSyntax.IsEncapsulated);
            image = new ImageBuffer(1, h, w, unit);
        }
        else
        {
            image = new ImageBuffer(3, h, w, ColourUnit(file, pixels, photometric));
        }
        if (options.Range == DicomValueRange.Xrv)
        {
            var d = image.Data;
            for (var i = 0; i < d.Length; i++)
                d[i] = d[i] * 2048f - 1024f;
        }
        return image;
    }

    /// <summary>
    /// Monochrome values after modality LUT and VOI, mapped to [0, 1] over the VOI output range, MONOCHROME1 inverted.
    /// Computed in double; only the final value is rounded to float.
    /// </summary>
    public static float[] MonochromeUnit(PixelArray pixels, DicomDataset ds, VoiSelection window, bool compressed = false)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(ds);
        if (pixels.Samples != 1)
            throw new DicomException(ds.Name, $"a monochrome image with {pixels.Samples} samples per pixel", null);
        var values = DicomLut.ApplyVoi(DicomLut.ApplyModality(DicomLut.StoredValues(pixels, 0, ds, compressed), ds), ds, window, out var range);
        var invert = ds.GetString(DicomTags.PhotometricInterpretation) == "MONOCHROME1";
        double lo = range.Low, span = range.High - range.Low;
        var unit = new float[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var v = span > 0 ? Math.Clamp((values[i] - lo) / span, 0, 1) : 0;
            unit[i] = (float)(invert ? 1 - v : v);
        }
        return unit;
    }

    /// <summary>Colour frames as planar RGB in [0, 1] ([3,H,W]).</summary>
    private static float[] ColourUnit(DicomFile file, PixelArray pixels, string photometric)
    {
        var ds = file.Dataset;
        var stored = DicomLut.StoredValues(pixels, 0, file);
        int plane = pixels.Rows * pixels.Columns;
        var bs = (int)(ds.GetInt(DicomTags.BitsStored) ?? pixels.ElementSize * 8);
        double[] rgb;
        double max;
        switch (photometric)
        {
            case "RGB":
            case "YBR_RCT": // JPEG 2000: OpenJPEG has already reversed the component transform
            case "YBR_ICT":
                RequireSamples(ds, pixels, 3, photometric);
                rgb = stored;
                max = Math.Pow(2, bs) - 1;
                break;
            case "YBR_FULL":
            case "YBR_FULL_422":
                RequireSamples(ds, pixels, 3, photometric);
                if (bs <= 8)
                {
                    rgb = DicomLut.YbrFullToRgb(stored).Select(v => (double)v).ToArray();
                    max = 255;
                }
                else
                {
                    // pydicom converts 8-bit YBR only; wider samples use the same matrix around the mid value.
                    max = Math.Pow(2, bs) - 1;
                    var mid = Math.Pow(2, bs - 1);
                    rgb = new double[stored.Length];
                    for (var i = 0; i + 2 < stored.Length; i += 3)
                    {
                        double y = stored[i], cb = stored[i + 1] - mid, cr = stored[i + 2] - mid;
                        rgb[i] = Math.Clamp(Math.Floor(y + 1.402 * cr + 0.5), 0, max);
                        rgb[i + 1] = Math.Clamp(Math.Floor(y - 0.114 * 1.772 / 0.587 * cb - 0.299 * 1.402 / 0.587 * cr + 0.5), 0, max);
                        rgb[i + 2] = Math.Clamp(Math.Floor(y + 1.772 * cb + 0.5), 0, max);
                    }
                }
                break;
            case "PALETTE COLOR":
                RequireSamples(ds, pixels, 1, photometric);
                rgb = DicomLut.ApplyPalette(stored, ds, out var depth).Select(v => (double)v).ToArray();
                max = Math.Pow(2, depth) - 1;
                break;
            default:
                throw new DicomException(file.Name, $"Photometric Interpretation '{photometric}' cannot be shown (MONOCHROME1/2, RGB, YBR_FULL, YBR_FULL_422, YBR_RCT, YBR_ICT and PALETTE COLOR can)", null);
        }
        var output = new float[3 * plane];
        for (var i = 0; i < plane; i++)
        {
            for (var c = 0; c < 3; c++)
                output[c * plane + i] = (float)Math.Clamp(rgb[i * 3 + c] / max, 0, 1);
        }
        return output;
    }

    private static void RequireSamples(DicomDataset ds, PixelArray pixels, int samples, string photometric)
    {
        if (pixels.Samples != samples)
            throw new DicomException(ds.Name, $"{photometric} with {pixels.Samples} samples per pixel (expected {samples})", null);
    }
}
