using SkiaSharp;
using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Tests;

public sealed class OrientationTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>
    /// Where the stored top-left (red) and top-right (green) markers must appear in the upright view, straight from the
    /// EXIF specification's description of each value (row 0 / column 0 sides).
    /// </summary>
    public static TheoryData<int, string, string> Expected => new()
    {
        { 1, "TL", "TR" }, // as stored
        { 2, "TR", "TL" }, // mirrored horizontally
        { 3, "BR", "BL" }, // rotated 180
        { 4, "BL", "BR" }, // mirrored vertically
        { 5, "TL", "BL" }, // transposed
        { 6, "TR", "BR" }, // stored rotated: turn 90 clockwise to view
        { 7, "BR", "TR" }, // transverse
        { 8, "BL", "TL" }, // turn 90 counter-clockwise to view
    };

    [SkippableTheory]
    [MemberData(nameof(Expected))]
    public void Exif_orientation_puts_the_marked_corners_where_they_belong(int orientation, string red, string green)
    {
        Skip.IfNot(TestFiles.HasExifTool, "exiftool is not installed (apt install libimage-exiftool-perl); orientation files cannot be written.");
        const int w = 120, h = 80;
        using var bmp = TestFiles.Bitmap(w, h, (x, y) =>
            x < 24 && y < 24 ? new SKColor(255, 0, 0) : x >= w - 24 && y < 24 ? new SKColor(0, 255, 0) : new SKColor(128, 128, 128));
        var path = TestFiles.Encode(bmp, dir.File($"o{orientation}.jpg"), SKEncodedImageFormat.Jpeg, 95);
        TestFiles.ExifTool("-overwrite_original", "-n", $"-Orientation={orientation}", path);
        Assert.Equal(orientation, ImageDecoder.ReadHeader(path).Orientation);

        var img = ImageDecoder.Decode(path);
        var swapped = orientation >= 5;
        Assert.Equal(swapped ? (w, h) : (h, w), (img.Height, img.Width));
        Assert.Equal(red, RedCorner(img));
        Assert.Equal(green, GreenCorner(img));

        var raw = ImageDecoder.Decode(path, new DecodeOptions { ApplyExifOrientation = false });
        Assert.Equal((h, w), (raw.Height, raw.Width));
        Assert.Equal("TL", RedCorner(raw));
    }

    private static string RedCorner(ImageBuffer img) => Corner(img, (r, g, b) => r > 0.8f && g < 0.2f && b < 0.2f);

    private static string GreenCorner(ImageBuffer img) => Corner(img, (r, g, b) => g > 0.8f && r < 0.2f && b < 0.2f);

    private static string Corner(ImageBuffer img, Func<float, float, float, bool> match)
    {
        var found = new List<string>();
        foreach (var (name, x, y) in new[] { ("TL", 6, 6), ("TR", img.Width - 7, 6), ("BL", 6, img.Height - 7), ("BR", img.Width - 7, img.Height - 7) })
        {
            if (match(img[0, y, x], img[1, y, x], img[2, y, x]))
                found.Add(name);
        }
        return Assert.Single(found);
    }
}
