using System.Buffers.Binary;
using VisionRwkv.Datasets.Imaging.Dicom.Codecs;
using VisionRwkv.Datasets.Imaging.Native;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>
/// Turns the Pixel Data element into stored values, following pydicom 2.3's <c>pixel_array</c>: its length checks and
/// padding rules for native data, its YBR_FULL_422 expansion, its planar handling (RLE planar, JPEG family interleaved),
/// and its JPEG 2000 sign correction. Every failure is a <see cref="DicomException"/> naming the file and the problem.
/// </summary>
internal static class PixelDecoder
{
    private readonly record struct Format(int Rows, int Columns, int Samples, int BitsAllocated, int BitsStored,
        int PixelRepresentation, string Photometric, int Planar, int Frames, PixelDataType Type);

    public static PixelArray Decode(DicomFile file, int? frame, DicomOptions options)
    {
        var ds = file.Dataset;
        var px = ds.Get(DicomTags.PixelData);
        if (px is null)
        {
            if (ds.Contains(DicomTags.FloatPixelData) || ds.Contains(DicomTags.DoubleFloatPixelData))
                throw Error(file, "the file holds Float or Double Float Pixel Data, which this reader does not decode");
            throw Error(file, "the file has no Pixel Data (7FE0,0010)");
        }
        var ts = file.TransferSyntax;
        var f = ReadFormat(file, ts, options);
        var multi = f.Frames > 1;
        var first = frame ?? 0;
        var count = frame is null ? f.Frames : 1;
        var bytes = (long)count * f.Rows * f.Columns * f.Samples * PixelArray.ElementSizeOf(f.Type);
        if (bytes > Array.MaxLength)
            throw Error(file, $"{count} frames of {f.Rows}x{f.Columns}x{f.Samples} need {bytes} bytes, more than one array holds; decode one frame at a time");
        // The output is allocated only once the data is known to fill it: native data after its length check, compressed
        // data after the first frame decodes (its codec has checked the declared size), so a header alone cannot make us
        // allocate a large array.
        PixelArray NewResult() => new(f.Type, count, f.Rows, f.Columns, f.Samples, multi && frame is null);
        PixelArray? result = null;

        switch (ts.Encoding)
        {
            case PixelEncoding.Native:
                if (px.Fragments is not null)
                    throw Error(file, $"the pixel data is encapsulated but the transfer syntax {ts.Uid} ({ts.Name}) is not compressed", px.Position);
                result = DecodeNative(file, px, f, first, count, NewResult);
                break;
            case PixelEncoding.Unsupported:
                throw Error(file, $"unsupported transfer syntax {ts.Uid} ({ts.Name})");
            default:
                if (px.Fragments is null)
                    throw Error(file, $"the transfer syntax {ts.Uid} ({ts.Name}) is compressed but the pixel data is not encapsulated", px.Position);
                result = DecodeEncapsulated(file, px, f, first, count, NewResult, options);
                break;
        }
        return result;
    }

    private static DicomException Error(DicomFile file, string reason, long? offset = null) => new(file.Name, reason, offset);

    private static Format ReadFormat(DicomFile file, TransferSyntax ts, DicomOptions options)
    {
        var ds = file.Dataset;
        var required = new List<(DicomTag Tag, string Name)>
        {
            (DicomTags.BitsAllocated, "Bits Allocated"), (DicomTags.Rows, "Rows"), (DicomTags.Columns, "Columns"),
            (DicomTags.SamplesPerPixel, "Samples per Pixel"), (DicomTags.PhotometricInterpretation, "Photometric Interpretation"),
            (DicomTags.PixelRepresentation, "Pixel Representation"), (DicomTags.BitsStored, "Bits Stored"),
        };
        var missing = required.Where(r => ds.Get(r.Tag) is not { Length: > 0 }).Select(r => $"{r.Name} {r.Tag}").ToList();
        if (missing.Count > 0)
            throw Error(file, $"the pixel data cannot be decoded: missing {string.Join(", ", missing)}");
        long Required(DicomTag tag, string name) =>
            ds.GetInt(tag) ?? throw Error(file, $"{name} {tag} has no value", ds.Get(tag)?.Position);
        long rows = Required(DicomTags.Rows, "Rows"), cols = Required(DicomTags.Columns, "Columns");
        long samples = Required(DicomTags.SamplesPerPixel, "Samples per Pixel"), ba = Required(DicomTags.BitsAllocated, "Bits Allocated");
        long bs = Required(DicomTags.BitsStored, "Bits Stored"), pr = Required(DicomTags.PixelRepresentation, "Pixel Representation");
        var photometric = ds.GetString(DicomTags.PhotometricInterpretation) ?? string.Empty;
        if (rows <= 0 || cols <= 0)
            throw Error(file, $"invalid image size {rows} rows x {cols} columns");
        if (rows * cols > options.MaxPixels)
            throw Error(file, $"declared size {cols}x{rows} exceeds the limit of {options.MaxPixels} pixels");
        if (samples is < 1 or > 4)
            throw Error(file, $"Samples per Pixel {samples} is not supported (1 to 4)");
        if (ba is not (1 or 8 or 16 or 32))
            throw Error(file, $"Bits Allocated {ba} is not supported (1, 8, 16 or 32)");
        if (bs < 1 || bs > ba)
            throw Error(file, $"Bits Stored {bs} is not between 1 and Bits Allocated {ba}");
        if (pr is not (0 or 1))
            throw Error(file, $"Pixel Representation {pr} is invalid (0 unsigned, 1 signed)");
        long frames = 1;
        if (ds.Contains(DicomTags.NumberOfFrames) && ds.GetInt(DicomTags.NumberOfFrames) is { } nf)
            frames = nf;
        if (frames < 1 || frames > int.MaxValue)
            throw Error(file, $"Number of Frames {frames} is invalid");
        int planar;
        if (samples > 1)
        {
            planar = ts.Encoding switch
            {
                PixelEncoding.Native => ds.GetInt(DicomTags.PlanarConfiguration) is { } pc ? (int)pc
                    : throw Error(file, "Planar Configuration (0028,0006) is required for colour pixel data and is missing"),
                PixelEncoding.Rle => 1,
                _ => 0,
            };
            if (planar is not (0 or 1))
                throw Error(file, $"Planar Configuration {planar} is invalid (0 or 1)");
        }
        else
        {
            planar = 0;
        }
        var type = ba switch
        {
            1 => PixelDataType.UInt8,
            8 => pr == 1 ? PixelDataType.Int8 : PixelDataType.UInt8,
            16 => pr == 1 ? PixelDataType.Int16 : PixelDataType.UInt16,
            _ => pr == 1 ? PixelDataType.Int32 : PixelDataType.UInt32,
        };
        return new Format((int)rows, (int)cols, (int)samples, (int)ba, (int)bs, (int)pr, photometric, planar, (int)frames, type);
    }

    private static PixelArray DecodeNative(DicomFile file, DicomElement px, Format f, int first, int count, Func<PixelArray> allocate)
    {
        var pixels = (long)f.Rows * f.Columns * f.Samples * f.Frames;
        var expected = f.BitsAllocated == 1 ? (pixels + 7) / 8 : pixels * (f.BitsAllocated / 8);
        var ybr422 = f.Photometric == "YBR_FULL_422";
        if (ybr422)
            expected = expected / 3 * 2;
        var padded = expected + expected % 2;
        var actual = px.Length;
        if (actual < padded && actual != expected)
        {
            var why = px.TruncatedFrom is { } declared
                ? $" (the file ends early: the element declares {declared} bytes)" : string.Empty;
            throw Error(file, $"the pixel data is {actual} bytes but {f.Frames} frame(s) of {f.Rows}x{f.Columns}x{f.Samples} at {f.BitsAllocated} bits need {expected}{why}", px.Position);
        }
        var src = px.Value;
        var little = file.Dataset.LittleEndian;
        var frameSamples = (long)f.Rows * f.Columns * f.Samples;
        var result = allocate();
        if (f.BitsAllocated == 1)
        {
            // Bits are packed little-end first; frames follow each other without byte alignment.
            for (var k = 0; k < count; k++)
            {
                var bitBase = (first + k) * frameSamples;
                for (long i = 0; i < frameSamples; i++)
                {
                    var bit = bitBase + i;
                    result.Data[k * frameSamples + i] = (byte)((src[(int)(bit >> 3)] >> (int)(bit & 7)) & 1);
                }
            }
            return result;
        }
        var size = f.BitsAllocated / 8;
        var frameBytesIn = ybr422 ? frameSamples * size / 3 * 2 : frameSamples * size;
        var frameBuffer = new byte[frameSamples * size];
        for (var k = 0; k < count; k++)
        {
            var input = src.Slice((int)((first + k) * frameBytesIn), (int)frameBytesIn);
            if (ybr422)
            {
                // Y1 Y2 Cb Cr -> Y1 Cb Cr Y2 Cb Cr (PS3.3 C.7.6.3.1.2), as pydicom expands it.
                var groups = input.Length / (4 * size);
                for (var g = 0; g < groups; g++)
                {
                    var s = input.Slice(g * 4 * size, 4 * size);
                    var d = frameBuffer.AsSpan(g * 6 * size, 6 * size);
                    s[..size].CopyTo(d);
                    s.Slice(2 * size, size).CopyTo(d[size..]);
                    s.Slice(3 * size, size).CopyTo(d[(2 * size)..]);
                    s.Slice(size, size).CopyTo(d[(3 * size)..]);
                    s.Slice(2 * size, size).CopyTo(d[(4 * size)..]);
                    s.Slice(3 * size, size).CopyTo(d[(5 * size)..]);
                }
            }
            else
            {
                input.CopyTo(frameBuffer);
            }
            if (!little && size > 1)
                SwapBytes(frameBuffer, size);
            WriteFrame(frameBuffer, size, f, f.Planar == 1, result.Data.AsSpan((int)(k * frameSamples * size), (int)(frameSamples * size)));
        }
        return result;
    }

    private static void SwapBytes(byte[] buffer, int size)
    {
        for (var i = 0; i + size <= buffer.Length; i += size)
            buffer.AsSpan(i, size).Reverse();
    }

    /// <summary>Copies one frame of little-endian samples, reordering planar ([S,R,C]) data to interleaved ([R,C,S]).</summary>
    private static void WriteFrame(byte[] frame, int size, Format f, bool planar, Span<byte> dst)
    {
        if (!planar || f.Samples == 1)
        {
            frame.AsSpan(0, dst.Length).CopyTo(dst);
            return;
        }
        var plane = f.Rows * f.Columns;
        for (var s = 0; s < f.Samples; s++)
        {
            for (var i = 0; i < plane; i++)
                frame.AsSpan((s * plane + i) * size, size).CopyTo(dst[((i * f.Samples + s) * size)..]);
        }
    }

    private static PixelArray DecodeEncapsulated(DicomFile file, DicomElement px, Format f, int first, int count, Func<PixelArray> allocate, DicomOptions options)
    {
        var ts = file.TransferSyntax;
        if (f.BitsAllocated == 1)
            throw Error(file, $"Bits Allocated 1 with a compressed transfer syntax ({ts.Name}) is not supported");
        var frames = SplitFrames(file, px, f.Frames, ts.Encoding);
        var size = f.BitsAllocated / 8;
        var frameSamples = (long)f.Rows * f.Columns * f.Samples;
        (int Precision, bool Signed)? j2k = null;
        PixelArray? result = null;
        for (var k = 0; k < count; k++)
        {
            var index = first + k;
            var bytes = Join(px, frames[index]);
            try
            {
                if (ts.Encoding == PixelEncoding.Rle)
                {
                    var planar = RleCodec.DecodeFrame(bytes, f.Rows, f.Columns, f.Samples, f.BitsAllocated);
                    result ??= allocate();
                    WriteFrame(planar, size, f, planar: true, result.Data.AsSpan((int)(k * frameSamples * size), (int)(frameSamples * size)));
                    continue;
                }
                var dims = (f.Columns, f.Rows);
                var decoded = ts.Encoding switch
                {
                    PixelEncoding.JpegDct or PixelEncoding.JpegLossless => DecodeJpeg(bytes, options.MaxPixels, dims),
                    PixelEncoding.JpegLs => CharLs.Decode(bytes, options.MaxPixels, dims),
                    PixelEncoding.Jpeg2000 => OpenJpeg.Decode(bytes, options.MaxPixels, dims),
                    _ => throw new CodecException($"unsupported transfer syntax {ts.Uid} ({ts.Name})"),
                };
                if (decoded.Width != f.Columns || decoded.Height != f.Rows)
                    throw new CodecException($"the compressed frame is {decoded.Width}x{decoded.Height} but Columns x Rows say {f.Columns}x{f.Rows}");
                if (decoded.Components != f.Samples)
                    throw new CodecException($"the compressed frame has {decoded.Components} components but Samples per Pixel is {f.Samples}");
                if (ts.Encoding == PixelEncoding.Jpeg2000 && k == 0)
                    j2k = OpenJpeg.CodestreamParameters(Join(px, frames[0]));
                var samples = decoded.Samples;
                if (ts.Encoding == PixelEncoding.Jpeg2000 && f.PixelRepresentation == 1)
                    SignCorrectJ2k(samples, j2k, f);
                result ??= allocate();
                result.SetFrame(k, samples);
            }
            catch (CodecException e)
            {
                var where = f.Frames > 1 ? $"frame {index}: " : string.Empty;
                var truncated = px.TruncatedFrom is not null ? "; the file ends inside the pixel data" : string.Empty;
                throw Error(file, $"{where}{e.Message} ({ts.Name}{truncated})", px.Position);
            }
        }
        return result!;
    }

    /// <summary>
    /// pydicom's JPEG 2000 correction: unsigned J2K data in a signed (Pixel Representation 1) dataset is sign-extended
    /// from the codestream's precision (Bits Stored when the SIZ marker cannot be read, as for a JP2 file).
    /// </summary>
    private static void SignCorrectJ2k(int[] samples, (int Precision, bool Signed)? parameters, Format f)
    {
        var precision = parameters?.Precision ?? f.BitsStored;
        var signed = parameters?.Signed ?? false;
        if (signed || precision >= 32 || precision < 1 || precision > f.BitsAllocated)
            return;
        var shift = 32 - precision;
        for (var i = 0; i < samples.Length; i++)
            samples[i] = (samples[i] << shift) >> shift;
    }

    private static DecodedFrame DecodeJpeg(byte[] jpeg, long maxPixels, (int Width, int Height) size)
    {
        var marker = JpegDecoder.FindFrameMarker(jpeg);
        // 8-bit sequential JPEG goes to libjpeg-turbo; 12-bit and lossless JPEG, which it cannot decode, to our decoder,
        // which also has the last word on anything TurboJPEG refuses (and names the problem).
        if (marker is 0xC0 or 0xC1 && TurboJpegPlanes.TryDecode(jpeg, size) is { } fast)
            return fast;
        return JpegDecoder.Decode(jpeg, maxPixels, size);
    }

    private static byte[] Join(DicomElement px, IReadOnlyList<DicomFragment> fragments)
    {
        var total = fragments.Sum(x => (long)x.Length);
        var buffer = new byte[total];
        var o = 0;
        foreach (var fr in fragments)
        {
            px.FragmentBytes(fr).CopyTo(buffer.AsSpan(o));
            o += fr.Length;
        }
        return buffer;
    }

    /// <summary>
    /// The fragments of each frame: from the Extended Offset Table or the Basic Offset Table when present; otherwise all
    /// fragments for a single frame, one fragment per frame when the counts agree, or by where JPEG and JPEG 2000 streams start.
    /// </summary>
    internal static List<DicomFragment>[] SplitFrames(DicomFile file, DicomElement px, int frames, PixelEncoding encoding)
    {
        var all = px.Fragments!;
        if (all.Count == 0)
            throw Error(file, "the encapsulated pixel data has no Basic Offset Table item", px.Position);
        var data = all.Skip(1).ToList();
        if (data.Count == 0)
            throw Error(file, "the encapsulated pixel data has no fragments", px.Position);
        var result = new List<DicomFragment>[frames];

        // Item start positions relative to the first fragment's item tag, which is what offset tables count from.
        var starts = new long[data.Count];
        for (var i = 1; i < data.Count; i++)
            starts[i] = starts[i - 1] + 8 + data[i - 1].Length;

        long[]? offsets = null;
        var eot = file.Dataset.GetBytes(DicomTags.ExtendedOffsetTable);
        if (eot.Length >= 8)
        {
            offsets = new long[eot.Length / 8];
            for (var i = 0; i < offsets.Length; i++)
                offsets[i] = (long)BinaryPrimitives.ReadUInt64LittleEndian(eot[(8 * i)..]);
        }
        else if (all[0].Length >= 4)
        {
            var bot = px.FragmentBytes(all[0]);
            offsets = new long[bot.Length / 4];
            for (var i = 0; i < offsets.Length; i++)
                offsets[i] = BinaryPrimitives.ReadUInt32LittleEndian(bot[(4 * i)..]);
        }

        if (offsets is not null && offsets.Length == frames)
        {
            for (var k = 0; k < frames; k++)
            {
                var begin = Array.IndexOf(starts, offsets[k]);
                if (begin < 0)
                    throw Error(file, $"offset table entry {k} ({offsets[k]}) does not point at a fragment", px.Position);
                var end = k + 1 < frames ? Array.IndexOf(starts, offsets[k + 1]) : data.Count;
                if (end <= begin)
                    throw Error(file, $"offset table entries {k} and {k + 1} are out of order", px.Position);
                result[k] = data.GetRange(begin, end - begin);
            }
            return result;
        }
        if (frames == 1)
        {
            result[0] = data;
            return result;
        }
        if (data.Count == frames)
        {
            for (var k = 0; k < frames; k++)
                result[k] = [data[k]];
            return result;
        }
        if (encoding != PixelEncoding.Rle)
        {
            var groups = new List<List<DicomFragment>>();
            foreach (var fr in data)
            {
                var b = px.FragmentBytes(fr);
                var startsFrame = b.Length >= 4 && b[0] == 0xFF && (b[1] == 0xD8 || b[1] == 0x4F && b[2] == 0xFF && b[3] == 0x51)
                    || b.Length >= 8 && b[4] == (byte)'j' && b[5] == (byte)'P' && b[6] == ' ' && b[7] == ' ';
                if (startsFrame || groups.Count == 0)
                    groups.Add([]);
                groups[^1].Add(fr);
            }
            if (groups.Count == frames)
                return [.. groups];
        }
        throw Error(file, $"cannot tell which of {data.Count} fragments belong to which of {frames} frames (no usable offset table)", px.Position);
    }
}
