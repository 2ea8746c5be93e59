using System.Globalization;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>What <c>rwkv dicom</c> shows: a summary of a file's attributes and an 8-bit PNG of its windowed image.</summary>
public static class DicomPreview
{
    /// <summary>The main attributes as label/value pairs, in display order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Describe(DicomFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var i = file.Info;
        static string S(string? v) => string.IsNullOrEmpty(v) ? "-" : v;
        static string N(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
        var rows = new List<KeyValuePair<string, string>>
        {
            new("patient id", S(i.PatientId)),
            new("study uid", S(i.StudyInstanceUid)),
            new("series uid", S(i.SeriesInstanceUid)),
            new("modality", $"{S(i.Modality)}   view position {S(i.ViewPosition)}   body part {S(i.BodyPartExamined)}"),
            new("transfer syntax", $"{i.TransferSyntaxUid} ({i.TransferSyntaxName})"),
        };
        if (!i.HasPixelData)
        {
            rows.Add(new("pixel data", "none"));
            return rows;
        }
        rows.Add(new("size", $"{i.Columns} x {i.Rows}, {i.Frames} frame{(i.Frames == 1 ? "" : "s")}"
            + (i.PixelSpacing.Count == 2 ? $", pixel spacing {N(i.PixelSpacing[0])} x {N(i.PixelSpacing[1])} mm" : string.Empty)));
        rows.Add(new("pixels", $"{S(i.PhotometricInterpretation)}, {i.SamplesPerPixel} sample{(i.SamplesPerPixel == 1 ? "" : "s")}, "
            + $"{i.BitsAllocated} bits allocated, {i.BitsStored} stored, {(i.PixelRepresentation == 1 ? "signed" : "unsigned")}"));
        if (i.RescaleSlope is not null || i.RescaleIntercept is not null)
            rows.Add(new("rescale", $"slope {N(i.RescaleSlope ?? 1)}, intercept {N(i.RescaleIntercept ?? 0)}"));
        var windows = Math.Min(i.WindowCenters.Count, i.WindowWidths.Count);
        if (windows > 0)
            rows.Add(new("windows", string.Join("; ", Enumerable.Range(0, windows).Select(k => $"{k}: center {N(i.WindowCenters[k])} width {N(i.WindowWidths[k])}"))));
        if (file.Dataset.GetItems(DicomTags.VoiLutSequence).Count is var luts and > 0)
            rows.Add(new("voi luts", luts.ToString(CultureInfo.InvariantCulture)));
        return rows;
    }

    /// <summary>
    /// The image a preview shows: <see cref="DicomImage.ToImage"/> in [0, 1], except that a monochrome file with no
    /// window and no VOI LUT, shown with the default window, is stretched from its darkest to its brightest pixel (the
    /// full stored range is usually mostly empty). Model input never does this: it keeps the data-independent mapping.
    /// </summary>
    public static ImageBuffer PreviewImage(DicomFile file, DicomOptions options)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(options);
        options = options with { Range = DicomValueRange.Unit };
        var image = DicomImage.ToImage(file, options);
        var ds = file.Dataset;
        var hasVoi = ds.GetDoubles(DicomTags.WindowCenter).Length > 0 && ds.GetDoubles(DicomTags.WindowWidth).Length > 0
            || ds.GetItems(DicomTags.VoiLutSequence).Count > 0;
        if (image.Channels != 1 || hasVoi || options.Window != VoiSelection.First)
            return image;
        var d = image.Data;
        float lo = d.Min(), hi = d.Max();
        if (hi > lo)
        {
            for (var k = 0; k < d.Length; k++)
                d[k] = (d[k] - lo) / (hi - lo);
        }
        return image;
    }

    /// <summary>An 8-bit PNG (grey for one channel, RGB for three) of an image with values in [0, 1].</summary>
    public static byte[] Png(ImageBuffer image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Channels is not (1 or 3))
            throw new ArgumentException($"A PNG preview needs 1 or 3 channels, not {image.Channels}.", nameof(image));
        var gray = image.Channels == 1;
        var info = new SKImageInfo(image.Width, image.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        var pixels = new byte[info.BytesSize];
        var plane = image.PlaneSize;
        static byte B(float v) => (byte)Math.Clamp(MathF.Round(v * 255f), 0, 255);
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var p = y * image.Width + x;
                if (gray)
                {
                    pixels[y * info.RowBytes + x] = B(image.Data[p]);
                }
                else
                {
                    var o = y * info.RowBytes + 4 * x;
                    pixels[o] = B(image.Data[p]);
                    pixels[o + 1] = B(image.Data[plane + p]);
                    pixels[o + 2] = B(image.Data[2 * plane + p]);
                    pixels[o + 3] = 255;
                }
            }
        }
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        try
        {
            using var bitmap = new SKBitmap();
            bitmap.InstallPixels(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }
}
