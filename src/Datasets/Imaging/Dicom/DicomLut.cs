using System.Buffers.Binary;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>The range of values a LUT step can produce (pydicom's y_min..y_max); Min may exceed Max for a negative slope.</summary>
public readonly record struct ValueRange(double Min, double Max)
{
    public double Low => Math.Min(Min, Max);

    public double High => Math.Max(Min, Max);
}

/// <summary>
/// The grey-level pipeline of PS3.3 C.11, computed as pydicom 2.3's <c>apply_modality_lut</c> and <c>apply_voi_lut</c>
/// compute it (same branches, same float64 operations in the same order), on the stored values masked to Bits Stored.
/// All arithmetic is in double, so 16-bit (and 32-bit) values stay exact up to the windowing step.
/// </summary>
public static class DicomLut
{
    /// <summary>
    /// The stored values of one frame as the LUTs take them. Native (uncompressed) data is masked to Bits Stored and
    /// sign-extended from it when signed: bits above Bits Stored are not part of the value (overlays, garbage). A
    /// codec's output is its value, so compressed data is left alone, except that signed data still holding an
    /// unextended Bits Stored-bit pattern (0 to 2^Bits Stored - 1) is sign-extended; a lossy codec's overshoot past Bits
    /// Stored stays as decoded. pydicom 2.3 does neither; this is our documented convention.
    /// </summary>
    public static double[] StoredValues(PixelArray pixels, int frame, DicomDataset ds, bool compressed = false)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(ds);
        var values = pixels.FrameValues(frame);
        var bs = (int)(ds.GetInt(DicomTags.BitsStored) ?? 0);
        var ba = pixels.ElementSize * 8;
        if (bs <= 0 || bs >= ba || (ds.GetInt(DicomTags.BitsAllocated) ?? 0) == 1)
            return values;
        var mask = (1L << bs) - 1;
        var signBit = 1L << (bs - 1);
        var signed = pixels.IsSigned;
        for (var i = 0; i < values.Length; i++)
        {
            var raw = (long)values[i];
            if (compressed && (raw < 0 || raw > mask))
                continue;
            var v = raw & mask;
            values[i] = signed && (v & signBit) != 0 ? v - (1L << bs) : v;
        }
        return values;
    }

    /// <summary><see cref="StoredValues(PixelArray, int, DicomDataset, bool)"/> with the file's own compression.</summary>
    public static double[] StoredValues(PixelArray pixels, int frame, DicomFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return StoredValues(pixels, frame, file.Dataset, file.TransferSyntax.IsEncapsulated);
    }

    /// <summary>pydicom's apply_modality_lut: the Modality LUT Sequence when present, else Rescale Slope/Intercept, else unchanged.</summary>
    public static double[] ApplyModality(double[] values, DicomDataset ds)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(ds);
        var items = ds.GetItems(DicomTags.ModalityLutSequence);
        if (items.Count > 0)
        {
            var lut = Lut.Read(items[0], ds, "Modality LUT Sequence");
            return lut.Apply(values, lut.Depth <= 8 ? 0xFF : 0xFFFF, clipWidth: 64);
        }
        if (ds.GetDouble(DicomTags.RescaleSlope) is { } slope && ds.GetDouble(DicomTags.RescaleIntercept) is { } intercept)
        {
            var result = new double[values.Length];
            for (var i = 0; i < values.Length; i++)
                result[i] = values[i] * slope + intercept;
            return result;
        }
        return values;
    }

    /// <summary>
    /// The range windowing maps into, as pydicom's apply_windowing sets it: 0..2^depth-1 after a Modality LUT, else the
    /// range Bits Stored and Pixel Representation allow, rescaled when Rescale Slope and Intercept are present.
    /// </summary>
    public static ValueRange ModalityRange(DicomDataset ds)
    {
        ArgumentNullException.ThrowIfNull(ds);
        double yMin, yMax;
        var items = ds.GetItems(DicomTags.ModalityLutSequence);
        var bs = (int)(ds.GetInt(DicomTags.BitsStored) ?? 0);
        if (items.Count > 0)
        {
            var depth = Lut.Descriptor(items[0], ds, "Modality LUT Sequence").Depth;
            yMin = 0;
            yMax = Math.Pow(2, depth) - 1;
        }
        else if ((ds.GetInt(DicomTags.PixelRepresentation) ?? 0) == 0)
        {
            yMin = 0;
            yMax = Math.Pow(2, bs) - 1;
        }
        else
        {
            yMin = -Math.Pow(2, bs - 1);
            yMax = Math.Pow(2, bs - 1) - 1;
        }
        if (ds.GetDouble(DicomTags.RescaleSlope) is { } slope && ds.GetDouble(DicomTags.RescaleIntercept) is { } intercept)
        {
            yMin = yMin * slope + intercept;
            yMax = yMax * slope + intercept;
        }
        return new ValueRange(yMin, yMax);
    }

    /// <summary>
    /// pydicom's apply_voi_lut (with prefer_lut): the VOI LUT Sequence item <c>index</c> when present, else window
    /// <c>index</c>; an explicit window is a LINEAR window; <see cref="VoiSelection.None"/> (or a file with neither)
    /// returns the values unchanged with the modality range. <paramref name="range"/> is the output range.
    /// </summary>
    public static double[] ApplyVoi(double[] values, DicomDataset ds, VoiSelection selection, out ValueRange range)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(ds);
        range = ModalityRange(ds);
        if (selection.IsNone)
            return values;
        if (selection.IsExplicit)
            return Window(values, selection.Center, selection.Width, "LINEAR", range, ds);

        var index = selection.Index;
        var luts = ds.GetItems(DicomTags.VoiLutSequence);
        var validLut = luts.Count > 0 && luts[0].Get(DicomTags.LutDescriptor) is { Length: > 0 } && luts[0].Get(DicomTags.LutData) is { Length: > 0 };
        if (validLut)
        {
            if (index >= luts.Count)
                throw new DicomException(ds.Name, $"VOI LUT {index} does not exist (the file has {luts.Count})", null);
            var lut = Lut.Read(luts[index], ds, "VOI LUT Sequence");
            if (lut.Depth != 8 && lut.Depth is < 10 or > 16)
                throw new DicomException(ds.Name, $"a VOI LUT of {lut.Depth} bits per entry is not supported (8 or 10 to 16)", null);
            range = new ValueRange(0, Math.Pow(2, lut.Depth) - 1);
            return lut.Apply(values, lut.Depth == 8 ? 0xFF : 0xFFFF, clipWidth: lut.Depth == 8 ? 8 : 16);
        }
        var centers = ds.GetDoubles(DicomTags.WindowCenter);
        var widths = ds.GetDoubles(DicomTags.WindowWidth);
        if (centers.Length == 0 || widths.Length == 0)
            return values; // no VOI in the file: full range
        if (index >= centers.Length || index >= widths.Length)
        {
            if (index > 0)
                throw new DicomException(ds.Name, $"window {index} does not exist (the file has {Math.Min(centers.Length, widths.Length)})", null);
        }
        var function = ds.GetString(DicomTags.VoiLutFunction)?.ToUpperInvariant() ?? "LINEAR";
        return Window(values, centers[index], widths[index], function, range, ds);
    }

    /// <summary>pydicom's apply_windowing for one center/width, with the PS3.3 C.11.2.1 LINEAR, LINEAR_EXACT and SIGMOID functions.</summary>
    private static double[] Window(double[] values, double center, double width, string function, ValueRange range, DicomDataset ds)
    {
        var photometric = ds.GetString(DicomTags.PhotometricInterpretation);
        if (photometric is not ("MONOCHROME1" or "MONOCHROME2"))
            throw new DicomException(ds.Name, $"windowing needs MONOCHROME1 or MONOCHROME2, not {photometric}", null);
        double yMin = range.Min, yMax = range.Max, yRange = yMax - yMin;
        var result = new double[values.Length];
        switch (function)
        {
            case "LINEAR":
            case "LINEAR_EXACT":
                if (function == "LINEAR")
                {
                    if (width < 1)
                        throw new DicomException(ds.Name, $"Window Width {width} is below 1, which a LINEAR window does not allow", null);
                    center -= 0.5;
                    width -= 1;
                }
                else if (width <= 0)
                {
                    throw new DicomException(ds.Name, $"Window Width {width} must be above 0 for a LINEAR_EXACT window", null);
                }
                var low = center - width / 2;
                var high = center + width / 2;
                for (var i = 0; i < values.Length; i++)
                {
                    var v = values[i];
                    result[i] = v <= low ? yMin : v > high ? yMax : ((v - center) / width + 0.5) * yRange + yMin;
                }
                return result;
            case "SIGMOID":
                if (width <= 0)
                    throw new DicomException(ds.Name, $"Window Width {width} must be above 0 for a SIGMOID window", null);
                for (var i = 0; i < values.Length; i++)
                    result[i] = yRange / (1 + Math.Exp(-4 * (values[i] - center) / width)) + yMin;
                return result;
            default:
                throw new DicomException(ds.Name, $"unsupported VOI LUT Function '{function}'", null);
        }
    }

    /// <summary>
    /// pydicom's apply_color_lut for PALETTE COLOR: RGB ([R,C,3]) from the red, green and blue palettes (8- or 16-bit
    /// entries). Segmented palettes are refused with a clear error.
    /// </summary>
    public static int[] ApplyPalette(double[] indices, DicomDataset ds, out int depth)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(ds);
        if (!ds.Contains(DicomTags.RedPaletteDescriptor))
            throw new DicomException(ds.Name, "PALETTE COLOR without a Red Palette Color Lookup Table Descriptor (0028,1101)", null);
        if (!ds.Contains(DicomTags.RedPaletteData))
        {
            if (ds.Contains(DicomTags.SegmentedRedPaletteData))
                throw new DicomException(ds.Name, "segmented palette colour lookup tables are not supported", null);
            throw new DicomException(ds.Name, "PALETTE COLOR without palette data (0028,1201)", null);
        }
        var desc = ds.GetInts(DicomTags.RedPaletteDescriptor);
        if (desc.Length < 3)
            throw new DicomException(ds.Name, "the palette descriptor (0028,1101) needs 3 values", null);
        var entries = (int)(desc[0] & 0xFFFF);
        if (entries == 0)
            entries = 65536;
        var first = desc[1];
        var tables = new[] { DicomTags.RedPaletteData, DicomTags.GreenPaletteData, DicomTags.BluePaletteData };
        var bytes = tables.Select(t => ds.GetBytes(t).ToArray()).ToArray();
        // Entry size from the data length, as pydicom decides it.
        var bits = bytes[0].Length * 8.0 / entries;
        if (bits is not (8 or 16) || bytes.Any(b => b.Length != bytes[0].Length))
            throw new DicomException(ds.Name, $"palette data of {bytes[0].Length} bytes for {entries} entries ({bits:0.#} bits per entry; 8 or 16 allowed, all three the same length)", null);
        depth = (int)bits;
        var output = new int[indices.Length * 3];
        for (var c = 0; c < 3; c++)
        {
            var table = bytes[c];
            for (var i = 0; i < indices.Length; i++)
            {
                var v = indices[i];
                var idx = v >= first ? (long)(v - first) : 0;
                idx = Math.Clamp(idx, 0, entries - 1);
                output[i * 3 + c] = depth == 8 ? table[idx] : BinaryPrimitives.ReadUInt16LittleEndian(table.AsSpan((int)idx * 2));
            }
        }
        return output;
    }

    /// <summary>pydicom's YBR_FULL to RGB conversion (float32, round half up, clipped to 0..255) for 8-bit samples, [R,C,3].</summary>
    public static int[] YbrFullToRgb(double[] ybr)
    {
        ArgumentNullException.ThrowIfNull(ybr);
        const float gCb = (float)(-0.114 * 1.772 / 0.587);
        const float gCr = (float)(-0.299 * 1.402 / 0.587);
        var output = new int[ybr.Length];
        for (var i = 0; i + 2 < ybr.Length; i += 3)
        {
            var y = (float)ybr[i];
            var cb = (float)ybr[i + 1] - 128f;
            var cr = (float)ybr[i + 2] - 128f;
            var r = y * 1f + cb * 0f + cr * 1.402f;
            var g = y * 1f + cb * gCb + cr * gCr;
            var b = y * 1f + cb * 1.772f + cr * 0f;
            output[i] = (int)Math.Clamp(MathF.Floor(r + 0.5f), 0, 255);
            output[i + 1] = (int)Math.Clamp(MathF.Floor(g + 0.5f), 0, 255);
            output[i + 2] = (int)Math.Clamp(MathF.Floor(b + 0.5f), 0, 255);
        }
        return output;
    }

    /// <summary>A LUT from a Modality or VOI LUT Sequence item: descriptor (entries, first mapped value, bits) and data.</summary>
    private sealed class Lut
    {
        private Lut(int entries, long first, int depth, int[] data)
        {
            Entries = entries;
            First = first;
            Depth = depth;
            Data = data;
        }

        public int Entries { get; }

        public long First { get; }

        public int Depth { get; }

        public int[] Data { get; }

        public static (int Entries, long First, int Depth) Descriptor(DicomDataset item, DicomDataset root, string what)
        {
            var e = item.Get(DicomTags.LutDescriptor) ?? throw new DicomException(root.Name, $"the {what} item has no LUT Descriptor (0028,3002)", null);
            var raw = item.GetInts(DicomTags.LutDescriptor);
            if (raw.Length < 3)
                throw new DicomException(root.Name, $"the {what} LUT Descriptor needs 3 values", e.Position);
            // The first and third values are always unsigned; the second (first mapped value) is signed when the VR
            // says SS, or for implicit VR when Pixel Representation is 1 (pydicom's ambiguous-VR rule).
            var entries = (int)(raw[0] & 0xFFFF);
            if (entries == 0)
                entries = 65536;
            var explicitVr = item.ExplicitVr && e.Vr is "US" or "SS";
            var signed = explicitVr ? e.Vr == "SS" : (root.GetInt(DicomTags.PixelRepresentation) ?? 0) == 1;
            var first = signed ? (short)(raw[1] & 0xFFFF) : raw[1] & 0xFFFF;
            return (entries, first, (int)raw[2]);
        }

        public static Lut Read(DicomDataset item, DicomDataset root, string what)
        {
            var (entries, first, depth) = Descriptor(item, root, what);
            var data = item.Get(DicomTags.LutData) ?? throw new DicomException(root.Name, $"the {what} item has no LUT Data (0028,3006)", null);
            var bytes = data.Value;
            if (bytes.Length < entries * 2)
                throw new DicomException(root.Name, $"the {what} LUT Data holds {bytes.Length / 2} entries, the descriptor says {entries}", data.Position);
            var words = new int[entries];
            for (var i = 0; i < entries; i++)
                words[i] = item.LittleEndian ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) : BinaryPrimitives.ReadUInt16BigEndian(bytes[(2 * i)..]);
            return new Lut(entries, first, depth, words);
        }

        /// <summary>
        /// pydicom's LUT lookup: index = value - first mapped (0 below it), held in an integer of <paramref name="clipWidth"/>
        /// bits as numpy does (64: the input's own type), clipped to the table, entries cut to the LUT's numpy type by <paramref name="entryMask"/>.
        /// </summary>
        public double[] Apply(double[] values, int entryMask, int clipWidth)
        {
            var result = new double[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                var v = values[i];
                long idx = 0;
                if (v >= First)
                {
                    idx = (long)(v - First);
                    if (clipWidth < 64)
                        idx &= (1L << clipWidth) - 1;
                }
                idx = Math.Clamp(idx, 0, Entries - 1);
                result[i] = Data[idx] & entryMask;
            }
            return result;
        }
    }
}
