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
}
