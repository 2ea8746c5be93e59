using System.Buffers.Binary;

namespace VisionRwkv.Datasets.Imaging.Dicom.Codecs;

/// <summary>
/// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, one PackBits segment per byte plane
/// (the most significant byte of sample 0 first). Our own code: no served library decodes it, and it is short.
/// </summary>
internal static class RleCodec
{
    /// <summary>
    /// Decodes one frame into little-endian sample bytes in planar order (all of sample 0, then sample 1, ...), the layout
    /// pydicom's RLE handler produces before it reshapes with Planar Configuration 1.
    /// </summary>
    public static byte[] DecodeFrame(ReadOnlySpan<byte> data, int rows, int columns, int samples, int bitsAllocated)
    {
        if (bitsAllocated % 8 != 0)
            throw new CodecException($"RLE pixel data with Bits Allocated {bitsAllocated} cannot be decoded");
        if (data.Length < 64)
            throw new CodecException($"the RLE frame is {data.Length} bytes, shorter than its 64-byte header");
        var bytesPer = bitsAllocated / 8;
        var nSegments = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (nSegments > 15)
            throw new CodecException($"the RLE header declares {nSegments} segments (at most 15 are allowed)");
        if (nSegments != samples * bytesPer)
            throw new CodecException($"the RLE header declares {nSegments} segments, but {samples} samples of {bitsAllocated} bits need {samples * bytesPer}");
        var offsets = new long[nSegments + 1];
        for (var i = 0; i < nSegments; i++)
            offsets[i] = BinaryPrimitives.ReadUInt32LittleEndian(data[(4 + 4 * i)..]);
        offsets[nSegments] = data.Length;
        for (var i = 0; i < nSegments; i++)
        {
            if (offsets[i] < 64 || offsets[i] > data.Length || offsets[i] > offsets[i + 1])
                throw new CodecException($"RLE segment {i} has offset {offsets[i]}, outside the {data.Length}-byte frame or out of order");
        }

        var plane = rows * columns;
        // PackBits expands 2 bytes to at most 128: a segment too short to fill a plane is refused before allocating.
        for (var i = 0; i < nSegments; i++)
        {
            if ((offsets[i + 1] - offsets[i]) * 64 < plane)
                throw new CodecException($"RLE segment {i} holds {offsets[i + 1] - offsets[i]} bytes, too few for {plane} samples");
        }
        var output = new byte[checked((long)plane * samples * bytesPer)];
        var segment = new byte[plane];
        for (var s = 0; s < samples; s++)
        {
            for (var b = 0; b < bytesPer; b++)
            {
                var index = s * bytesPer + b;
                var n = DecodeSegment(data[(int)offsets[index]..(int)offsets[index + 1]], segment);
                if (n < plane)
                    throw new CodecException($"RLE segment {index} decodes to {n} bytes, expected {plane}");
                // Segment b holds byte (bytesPer - 1 - b) of each little-endian sample.
                var dst = output.AsSpan(s * plane * bytesPer);
                var shift = bytesPer - 1 - b;
                for (var k = 0; k < plane; k++)
                    dst[k * bytesPer + shift] = segment[k];
            }
        }
        return output;
    }

    /// <summary>PackBits: n in 0..127 copies n+1 literal bytes, -127..-1 repeats the next byte 1-n times, -128 is a no-op.</summary>
    internal static int DecodeSegment(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int p = 0, o = 0;
        while (p < src.Length && o < dst.Length)
        {
            var h = (sbyte)src[p++];
            if (h >= 0)
            {
                var n = Math.Min(Math.Min(h + 1, src.Length - p), dst.Length - o);
                src.Slice(p, n).CopyTo(dst[o..]);
                p += h + 1;
                o += n;
            }
            else if (h != -128)
            {
                if (p >= src.Length)
                    break;
                var n = Math.Min(1 - h, dst.Length - o);
                dst.Slice(o, n).Fill(src[p++]);
                o += n;
            }
        }
        return o;
    }
}
