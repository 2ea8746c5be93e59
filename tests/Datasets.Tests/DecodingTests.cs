using SkiaSharp;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Tests;

public sealed class DecodingTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static SKColor Quadrants(int x, int y, int w, int h) =>
        (x < w / 2, y < h / 2) switch
        {
            (true, true) => new SKColor(255, 0, 0),
            (false, true) => new SKColor(0, 255, 0),
            (true, false) => new SKColor(0, 0, 255),
            _ => new SKColor(255, 255, 255),
        };

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "png", 0.0)]
    [InlineData(SKEncodedImageFormat.Webp, "webp", 0.0)]
    [InlineData(SKEncodedImageFormat.Jpeg, "jpg", 0.08)]
    public void Colour_images_decode_to_three_channels_with_the_encoded_pixels(SKEncodedImageFormat format, string ext, double tolerance)
    {
        using var bmp = TestFiles.Bitmap(64, 48, (x, y) => Quadrants(x, y, 64, 48));
        // WebP at quality 100 is lossless in Skia.
        var path = TestFiles.Encode(bmp, dir.File("q." + ext), format, quality: 100);
        var img = ImageDecoder.Decode(path);
        Assert.Equal((3, 48, 64), (img.Channels, img.Height, img.Width));
        // Sample the middle of each quadrant: red, green, blue, white.
        AssertRgb(img, 16, 12, 1, 0, 0, tolerance);
        AssertRgb(img, 48, 12, 0, 1, 0, tolerance);
        AssertRgb(img, 16, 36, 0, 0, 1, tolerance);
        AssertRgb(img, 48, 36, 1, 1, 1, tolerance);
    }

    [Fact]
    public void Bmp_written_by_hand_decodes()
    {
        // 2x1 24-bit BMP: bottom-up rows of BGR padded to 4 bytes; pixel 0 red, pixel 1 blue.
        byte[] pixelRow = [0, 0, 255, 255, 0, 0, 0, 0];
        var header = new byte[54];
        "BM"u8.CopyTo(header);
        BitConverter.GetBytes(54 + pixelRow.Length).CopyTo(header, 2);
        BitConverter.GetBytes(54).CopyTo(header, 10);
        BitConverter.GetBytes(40).CopyTo(header, 14);
        BitConverter.GetBytes(2).CopyTo(header, 18);
        BitConverter.GetBytes(1).CopyTo(header, 22);
        BitConverter.GetBytes((short)1).CopyTo(header, 26);
        BitConverter.GetBytes((short)24).CopyTo(header, 28);
        var path = dir.File("a.bmp");
        File.WriteAllBytes(path, [.. header, .. pixelRow]);
        var img = ImageDecoder.Decode(path);
        Assert.Equal((3, 1, 2), (img.Channels, img.Height, img.Width));
        AssertRgb(img, 0, 0, 1, 0, 0, 0);
        AssertRgb(img, 1, 0, 0, 0, 1, 0);
    }

    [Fact]
    public void Gif_decodes_its_first_frame_only()
    {
        (byte, byte, byte)[] palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)];
        var first = new byte[] { 0, 1, 2, 3, 0, 1 };   // 3x2
        var second = new byte[] { 3, 3, 3, 3, 3, 3 };
        var path = dir.File("anim.gif");
        File.WriteAllBytes(path, TestFiles.Gif(3, 2, palette, first, second));
        Assert.Equal(2, ImageDecoder.ReadHeader(path).FrameCount);
        var img = ImageDecoder.Decode(path);
        Assert.Equal((3, 2, 3), (img.Channels, img.Height, img.Width));
        AssertRgb(img, 0, 0, 1, 0, 0, 0);
        AssertRgb(img, 1, 0, 0, 1, 0, 0);
        AssertRgb(img, 2, 0, 0, 0, 1, 0);
        AssertRgb(img, 0, 1, 0, 0, 0, 0);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "png")]
    [InlineData(SKEncodedImageFormat.Jpeg, "jpg")]
    public void Grey_images_decode_to_one_channel(SKEncodedImageFormat format, string ext)
    {
        var path = TestFiles.EncodeGray(32, 16, (x, _) => (byte)(x < 16 ? 30 : 220), dir.File("g." + ext), format);
        var img = ImageDecoder.Decode(path);
        Assert.Equal((1, 16, 32), (img.Channels, img.Height, img.Width));
        Assert.Equal(30 / 255f, img[0, 8, 4], 0.03f);
        Assert.Equal(220 / 255f, img[0, 8, 28], 0.03f);
    }

    [Fact]
    public void Alpha_is_flattened_onto_the_chosen_background()
    {
        // Left half opaque red, right half fully transparent, middle column half-transparent blue.
        using var bmp = TestFiles.Bitmap(8, 2, (x, _) => x < 4 ? new SKColor(255, 0, 0, 255) : x == 4 ? new SKColor(0, 0, 255, 128) : new SKColor(0, 255, 0, 0), SKAlphaType.Unpremul);
        var path = TestFiles.Encode(bmp, dir.File("a.png"), SKEncodedImageFormat.Png);
        var onBlack = ImageDecoder.Decode(path, new DecodeOptions { Background = Rgb.Black });
        var onGrey = ImageDecoder.Decode(path, new DecodeOptions { Background = new Rgb(0.5f, 0.5f, 0.5f) });
        AssertRgb(onBlack, 0, 0, 1, 0, 0, 0.002);
        AssertRgb(onBlack, 7, 0, 0, 0, 0, 0.002);
        AssertRgb(onGrey, 7, 0, 0.5, 0.5, 0.5, 0.002);
        var a = 128 / 255.0;
        AssertRgb(onGrey, 4, 0, 0.5 * (1 - a), 0.5 * (1 - a), a + 0.5 * (1 - a), 0.01);
    }

    [Fact]
    public void Sixteen_bit_grey_png_keeps_every_bit()
    {
        int[] values = [0, 1, 257, 4095, 32768, 65534, 65535];
        var path = dir.File("g16.png");
        File.WriteAllBytes(path, TestFiles.Png(values.Length, 2, 16, 0, (x, _, _) => values[x], 1));
        var img = ImageDecoder.Decode(path);
        Assert.Equal((1, 2, values.Length), (img.Channels, img.Height, img.Width));
        for (var x = 0; x < values.Length; x++)
            Assert.Equal(values[x] / 65535f, img[0, 1, x], 1e-7f);
        // The low bit survives: 65534 and 65535 stay different (an 8-bit or half-float decode merges them).
        Assert.NotEqual(img[0, 0, 5], img[0, 0, 6]);
    }

    [Fact]
    public void Sixteen_bit_rgba_png_is_exact_and_flattened()
    {
        // Pixel 0: opaque (1000, 30000, 65535); pixel 1: alpha 0 -> background.
        int[][] px = [[1000, 30000, 65535, 65535], [5, 6, 7, 0]];
        var path = dir.File("c16.png");
        File.WriteAllBytes(path, TestFiles.Png(2, 1, 16, 6, (x, _, s) => px[x][s], 4));
        var img = ImageDecoder.Decode(path, new DecodeOptions { Background = new Rgb(0.25f, 0.5f, 0.75f) });
        Assert.Equal(3, img.Channels);
        Assert.Equal(1000 / 65535f, img[0, 0, 0], 1e-7f);
        Assert.Equal(30000 / 65535f, img[1, 0, 0], 1e-7f);
        Assert.Equal(1f, img[2, 0, 0], 1e-7f);
        AssertRgb(img, 1, 0, 0.25, 0.5, 0.75, 1e-6);
    }

    [Fact]
    public void Sixteen_bit_decoder_agrees_with_skia_at_half_precision()
    {
        // Reference: Skia's own decode of the same file to 8 bits; ours must round to the same bytes.
        var rng = new SeededRng(5);
        var samples = Enumerable.Range(0, 40 * 30 * 3).Select(_ => rng.NextInt(65536)).ToArray();
        var bytes = TestFiles.Png(40, 30, 16, 2, (x, y, s) => samples[(y * 40 + x) * 3 + s], 3);
        var ours = ImageDecoder.Decode(bytes, "mem.png");
        using var skia = SKBitmap.Decode(bytes);
        for (var y = 0; y < 30; y++)
        {
            for (var x = 0; x < 40; x++)
            {
                var c = skia.GetPixel(x, y);
                Assert.Equal(c.Red / 255f, ours[0, y, x], 1.01f / 255f);
                Assert.Equal(c.Green / 255f, ours[1, y, x], 1.01f / 255f);
                Assert.Equal(c.Blue / 255f, ours[2, y, x], 1.01f / 255f);
            }
        }
    }

    [Fact]
    public void Huge_declared_size_is_refused_before_allocating()
    {
        var path = dir.File("bomb.png");
        File.WriteAllBytes(path, TestFiles.PngHeaderOnly(100_000, 100_000));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, "refused only after allocating pixel memory");
        Assert.Equal(path, e.Path);
        Assert.Contains("100000x100000", e.Message);
        Assert.Contains("limit", e.Reason);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Max_pixel_limit_is_configurable()
    {
        using var bmp = TestFiles.Bitmap(100, 100, (_, _) => SKColors.Gray);
        var path = TestFiles.Encode(bmp, dir.File("a.png"), SKEncodedImageFormat.Png);
        Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path, new DecodeOptions { MaxPixels = 9_999 }));
        Assert.Equal(100, ImageDecoder.Decode(path, new DecodeOptions { MaxPixels = 10_000 }).Width);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "png")]
    [InlineData(SKEncodedImageFormat.Webp, "webp")]
    public void Truncated_files_raise_an_error_naming_the_file(SKEncodedImageFormat format, string ext)
    {
        var rng = new SeededRng(1);
        using var bmp = TestFiles.Bitmap(200, 150, (_, _) => new SKColor((byte)rng.NextInt(256), (byte)rng.NextInt(256), (byte)rng.NextInt(256)));
        var full = File.ReadAllBytes(TestFiles.Encode(bmp, dir.File("full." + ext), format, 90));
        var path = dir.File("cut." + ext);
        File.WriteAllBytes(path, full[..(full.Length / 2)]);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(DecodeFailure.Truncated, e.Failure);
    }

    /// <summary>
    /// libjpeg-turbo's default mode (djpeg) and Pillow show a JPEG whose data ends early, with the rest filled: so do we,
    /// and the decoder's warning is reported with the image. Before issue 14 such files were refused.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Truncated_jpeg_decodes_with_a_warning_by_either_jpeg_decoder(bool turbo)
    {
        var rng = new SeededRng(2);
        using var bmp = TestFiles.Bitmap(300, 200, (_, _) => new SKColor((byte)rng.NextInt(256), (byte)rng.NextInt(256), (byte)rng.NextInt(256)));
        var full = File.ReadAllBytes(TestFiles.Encode(bmp, dir.File("full.jpg"), SKEncodedImageFormat.Jpeg, 90));
        var path = dir.File("cut.jpg");
        File.WriteAllBytes(path, full[..(full.Length * 2 / 3)]);
        var decoded = ImageDecoder.DecodeDetailed(path, new DecodeOptions { UseTurboJpeg = turbo, MinShorterSide = 50 });
        Assert.Equal((3, 200, 300), (decoded.Image.Channels, decoded.Height, decoded.Width));
        Assert.NotNull(decoded.WarningText);
        Assert.Contains("premature end", decoded.WarningText, StringComparison.OrdinalIgnoreCase);
        // The first rows are the picture, not fill.
        var first = ImageDecoder.Decode(dir.File("full.jpg"), new DecodeOptions { UseTurboJpeg = turbo, MinShorterSide = 50 });
        Assert.Equal(first[0, 2, 5], decoded.Image[0, 2, 5], 0.02f);
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(250)]
    public void Turbo_jpeg_fast_path_matches_skia_decoding(int minShorterSide)
    {
        Skip.IfNot(ImageDecoder.TurboJpegAvailable, "libturbojpeg is not installed (apt install libturbojpeg0); only the Skia JPEG path is in use.");
        var rng = new SeededRng(4);
        using var bmp = TestFiles.Bitmap(800, 600, (x, y) => new SKColor((byte)(x / 4 + rng.NextInt(30)), (byte)(y / 3), (byte)((x + y) / 6)));
        var path = TestFiles.Encode(bmp, dir.File("p.jpg"), SKEncodedImageFormat.Jpeg, 90);
        var gray = TestFiles.EncodeGray(160, 120, (x, y) => (byte)(x + y), dir.File("g.jpg"), SKEncodedImageFormat.Jpeg);
        foreach (var file in new[] { path, gray })
        {
            var options = new DecodeOptions { MinShorterSide = minShorterSide };
            var fast = ImageDecoder.Decode(file, options);
            var skia = ImageDecoder.Decode(file, options with { UseTurboJpeg = false });
            Assert.Equal((skia.Channels, skia.Height, skia.Width), (fast.Channels, fast.Height, fast.Width));
            double sum = 0, max = 0;
            for (var i = 0; i < fast.Data.Length; i++)
            {
                var d = Math.Abs(fast.Data[i] - skia.Data[i]);
                sum += d;
                max = Math.Max(max, d);
            }
            // Both are libjpeg-family decoders; only rounding in the IDCT and chroma upsampling may differ.
            Assert.True(sum / fast.Data.Length < 2.0 / 255, $"{file}: mean difference {sum / fast.Data.Length * 255:F2}/255");
            Assert.True(max < 24.0 / 255, $"{file}: max difference {max * 255:F1}/255");
        }
    }

    [Fact]
    public void Sixteen_bit_png_truncated_is_reported()
    {
        var bytes = TestFiles.Png(50, 50, 16, 0, (x, y, _) => x * y * 20, 1);
        var path = dir.File("cut16.png");
        File.WriteAllBytes(path, bytes[..(bytes.Length - 40)]);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, e.Path);
        Assert.Contains("truncated", e.Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("garbage.jpg", "not an image at all, just text")]
    [InlineData("empty.png", "")]
    public void Corrupt_and_empty_files_raise_an_error_naming_the_file(string name, string content)
    {
        var path = dir.File(name);
        File.WriteAllText(path, content);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, e.Path);
        Assert.False(string.IsNullOrWhiteSpace(e.Reason));
    }

    [Fact]
    public void Corrupted_jpeg_body_raises_an_error()
    {
        using var bmp = TestFiles.Bitmap(64, 64, (x, y) => new SKColor((byte)(x * 4), (byte)(y * 4), 0));
        var bytes = File.ReadAllBytes(TestFiles.Encode(bmp, dir.File("ok.jpg"), SKEncodedImageFormat.Jpeg));
        // Overwrite the start of frame marker's neighbourhood with an invalid marker sequence.
        var sof = Array.FindIndex(bytes, 2, b => b == 0xFF) ;
        for (var i = sof; i < sof + 40 && i < bytes.Length; i++)
            bytes[i] = 0xFF;
        var path = dir.File("bad.jpg");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Missing_file_raises_an_error_naming_it()
    {
        var path = dir.File("nope.jpg");
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Large_jpeg_is_decoded_at_a_reduced_dct_scale_that_still_covers_the_need()
    {
        using var bmp = TestFiles.Bitmap(1600, 1200, (x, y) => new SKColor((byte)(x / 7), (byte)(y / 5), 90));
        var path = TestFiles.Encode(bmp, dir.File("big.jpg"), SKEncodedImageFormat.Jpeg, 90);
        var full = ImageDecoder.Decode(path);
        var reduced = ImageDecoder.Decode(path, new DecodeOptions { MinShorterSide = 256 });
        Assert.Equal((1200, 1600), (full.Height, full.Width));
        // 1200 * 2/8 = 300 >= 256 while 1/8 (150) is too small, so the quarter scale is chosen.
        Assert.Equal((300, 400), (reduced.Height, reduced.Width));
        // Same picture: the reduced decode matches a 4x box average of the full decode.
        for (var y = 10; y < 300; y += 37)
        {
            for (var x = 10; x < 400; x += 41)
            {
                var mean = 0f;
                for (var dy = 0; dy < 4; dy++)
                {
                    for (var dx = 0; dx < 4; dx++)
                        mean += full[1, 4 * y + dy, 4 * x + dx];
                }
                Assert.Equal(mean / 16, reduced[1, y, x], 0.03f);
            }
        }
        // PNG cannot scale: full size whatever is asked.
        var png = TestFiles.Encode(bmp, dir.File("big.png"), SKEncodedImageFormat.Png);
        Assert.Equal(1600, ImageDecoder.Decode(png, new DecodeOptions { MinShorterSide = 256 }).Width);
    }

    internal static void AssertRgb(ImageBuffer img, int x, int y, double r, double g, double b, double tolerance)
    {
        Assert.InRange(img[0, y, x], r - tolerance - 1e-6, r + tolerance + 1e-6);
        Assert.InRange(img[1, y, x], g - tolerance - 1e-6, g + tolerance + 1e-6);
        Assert.InRange(img[2, y, x], b - tolerance - 1e-6, b + tolerance + 1e-6);
    }
}
