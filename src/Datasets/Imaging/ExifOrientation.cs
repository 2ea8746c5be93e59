using System.Buffers.Binary;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// Applies an EXIF orientation value (1-8) to an image: the stored pixels are turned into the upright view a photo
/// viewer shows. Values follow the EXIF/TIFF specification (1 = as stored, 6 = rotate 90° clockwise, ...).
/// </summary>
public static class ExifOrientation
{
    /// <summary>The upright image for <paramref name="orientation"/>; the input itself when the value is 1 or unknown.</summary>
    public static ImageBuffer Apply(ImageBuffer src, int orientation)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (orientation is < 2 or > 8)
            return src;
        int h = src.Height, w = src.Width;
        var swap = orientation >= 5;
        int oh = swap ? w : h, ow = swap ? h : w;
        var dst = new ImageBuffer(src.Channels, oh, ow);
        for (var c = 0; c < src.Channels; c++)
        {
            var s = src.Data.AsSpan(c * h * w, h * w);
            var d = dst.Data.AsSpan(c * oh * ow, oh * ow);
            for (var y = 0; y < oh; y++)
            {
                for (var x = 0; x < ow; x++)
                {
                    // (sy, sx): the stored pixel that shows at (y, x) in the upright view.
                    var (sy, sx) = orientation switch
                    {
                        2 => (y, w - 1 - x),          // mirror horizontally
                        3 => (h - 1 - y, w - 1 - x),  // rotate 180°
                        4 => (h - 1 - y, x),          // mirror vertically
                        5 => (x, y),                  // transpose
                        6 => (h - 1 - x, y),          // rotate 90° clockwise
                        7 => (h - 1 - x, w - 1 - y),  // transverse
                        _ => (x, w - 1 - y),          // 8: rotate 90° counter-clockwise
                    };
                    d[y * ow + x] = s[sy * w + sx];
                }
            }
        }
        return dst;
    }

    /// <summary>
    /// The orientation stored in a PNG's eXIf chunk (PNG 1.5 extension; Pillow's exif_transpose and browsers honour it,
    /// Skia does not read it); 1 when the file has none. Only chunks before the first IDAT count, as the extension says.
    /// </summary>
    public static int FromPng(ReadOnlySpan<byte> png)
    {
        var pos = 8;
        while (pos + 8 <= png.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[pos..]);
            var type = png.Slice(pos + 4, 4);
            if (length > int.MaxValue || pos + 12L + length > png.Length || type.SequenceEqual("IDAT"u8))
                return 1;
            if (type.SequenceEqual("eXIf"u8))
                return FromTiff(png.Slice(pos + 8, (int)length));
            pos += 12 + (int)length;
        }
        return 1;
    }

    /// <summary>The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 when absent or malformed.</summary>
    public static int FromTiff(ReadOnlySpan<byte> tiff)
    {
        if (tiff.Length < 8)
            return 1;
        bool little = tiff[0] == (byte)'I' && tiff[1] == (byte)'I';
        if (!little && !(tiff[0] == (byte)'M' && tiff[1] == (byte)'M'))
            return 1;
        static uint U32(ReadOnlySpan<byte> b, bool le) => le ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);
        static ushort U16(ReadOnlySpan<byte> b, bool le) => le ? BinaryPrimitives.ReadUInt16LittleEndian(b) : BinaryPrimitives.ReadUInt16BigEndian(b);
        var ifd = U32(tiff[4..], little);
        if (ifd > tiff.Length - 2)
            return 1;
        int count = U16(tiff[(int)ifd..], little), entry = (int)ifd + 2;
        for (var i = 0; i < count && entry + 12 <= tiff.Length; i++, entry += 12)
        {
            if (U16(tiff[entry..], little) == 0x0112 && U16(tiff[(entry + 2)..], little) == 3)
            {
                int v = U16(tiff[(entry + 8)..], little);
                return v is >= 1 and <= 8 ? v : 1;
            }
        }
        return 1;
    }
}
