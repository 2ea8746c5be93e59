using System.Buffers.Binary;
using System.IO.Compression;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// Decodes non-interlaced 16-bit PNGs at full precision. Skia only offers 8-bit or half-float destinations for them, and
/// half floats keep about 11 bits, which loses the low bits medical images (12-16 bit X-rays) carry.
/// </summary>
internal static class Png16Decoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>True when the bytes start a PNG whose IHDR declares bit depth 16 without interlacing.</summary>
    public static bool Handles(ReadOnlySpan<byte> data) =>
        data.Length >= 33 && data[..8].SequenceEqual(Signature) && data.Slice(12, 4).SequenceEqual("IHDR"u8)
        && data[24] == 16 && data[28] == 0;

    public static ImageBuffer Decode(byte[] data, string name, DecodeOptions options)
    {
        int width = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(16)), height = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(20));
        int colorType = data[25];
        var samples = colorType switch
        {
            0 => 1, // grey
            2 => 3, // RGB
            4 => 2, // grey + alpha
            6 => 4, // RGBA
            _ => throw new ImageDecodeException(name, $"16-bit PNG with unsupported colour type {colorType}"),
        };
        if (width <= 0 || height <= 0)
            throw new ImageDecodeException(name, $"invalid PNG size {width}x{height}");
        if ((long)width * height > options.MaxPixels)
            throw new ImageDecodeException(name, $"declared size {width}x{height} exceeds the limit of {options.MaxPixels} pixels", DecodeFailure.TooLarge);

        var idat = new MemoryStream();
        var pos = 8;
        var sawEnd = false;
        while (pos + 8 <= data.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            var type = data.AsSpan(pos + 4, 4);
            if (length > int.MaxValue || pos + 12 + (long)length > data.Length)
                throw new ImageDecodeException(name, "truncated file (a PNG chunk runs past the end)", DecodeFailure.Truncated);
            if (type.SequenceEqual("IDAT"u8))
                idat.Write(data, pos + 8, (int)length);
            else if (type.SequenceEqual("IEND"u8))
            {
                sawEnd = true;
                break;
            }
            pos += 12 + (int)length;
        }
        if (!sawEnd)
            throw new ImageDecodeException(name, "truncated file (no IEND chunk)", DecodeFailure.Truncated);

        var bpp = samples * 2;
        var stride = checked(width * bpp);
        var raw = new byte[checked((long)(stride + 1) * height)];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            z.ReadExactly(raw);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new ImageDecodeException(name, $"corrupt or truncated PNG image data ({e.Message})",
                e is EndOfStreamException ? DecodeFailure.Truncated : DecodeFailure.Corrupt, e);
        }

        var prev = new byte[stride];
        var cur = new byte[stride];
        var hasAlpha = samples is 2 or 4;
        var channels = samples is 1 or 2 ? 1 : 3;
        var img = new ImageBuffer(channels, height, width);
        var plane = height * width;
        var bg = options.Background;
        const float inv = 1f / 65535f;
        for (var y = 0; y < height; y++)
        {
            var row = raw.AsSpan(y * (stride + 1), stride + 1);
            Unfilter(row[0], row[1..], prev, cur, bpp, name);
            for (var x = 0; x < width; x++)
            {
                var p = cur.AsSpan(x * bpp);
                var a = hasAlpha ? BinaryPrimitives.ReadUInt16BigEndian(p[((samples - 1) * 2)..]) * inv : 1f;
                for (var c = 0; c < channels; c++)
                {
                    var v = BinaryPrimitives.ReadUInt16BigEndian(p[(c * 2)..]) * inv;
                    if (hasAlpha)
                    {
                        var back = channels == 1 ? bg.Luma : c == 0 ? bg.R : c == 1 ? bg.G : bg.B;
                        v = v * a + back * (1 - a);
                    }
                    img.Data[c * plane + y * width + x] = v;
                }
            }
            (prev, cur) = (cur, prev);
        }
        return img;
    }

    private static void Unfilter(byte filter, ReadOnlySpan<byte> src, ReadOnlySpan<byte> prev, Span<byte> dst, int bpp, string name)
    {
        for (var i = 0; i < src.Length; i++)
        {
            int left = i >= bpp ? dst[i - bpp] : 0, up = prev[i], upLeft = i >= bpp ? prev[i - bpp] : 0;
            dst[i] = filter switch
            {
                0 => src[i],
                1 => (byte)(src[i] + left),
                2 => (byte)(src[i] + up),
                3 => (byte)(src[i] + ((left + up) >> 1)),
                4 => (byte)(src[i] + Paeth(left, up, upLeft)),
                _ => throw new ImageDecodeException(name, $"corrupt PNG data (row filter type {filter})"),
            };
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
