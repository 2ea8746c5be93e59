using VisionRwkv.Common;
using SixLabors.ImageSharp.Formats.Tiff;
using SkiaSharp;
using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Tests;

/// <summary>
/// A generated corruption set over every decoded format: truncations at many offsets and seeded bit flips in headers and
/// in the image data. Whatever the damage, decoding either returns a well-formed image or throws an
/// <see cref="ImageDecodeException"/> with a category; nothing else escapes (zero crashes).
/// </summary>
public sealed class CorruptionTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static byte[] Source(string kind)
    {
        var rng = new SeededRng(11);
        using var bmp = TestFiles.Bitmap(80, 60, (x, y) => new SKColor((byte)(x * 3), (byte)(y * 4), (byte)rng.NextInt(256)));
        switch (kind)
        {
            case "tiff-lzw":
            case "tiff-deflate":
            {
                using var ms = new MemoryStream();
                using var image = SixLabors.ImageSharp.Image.LoadPixelData<SixLabors.ImageSharp.PixelFormats.Rgba32>(bmp.GetPixelSpan(), 80, 60);
                image.Save(ms, new TiffEncoder { Compression = kind == "tiff-lzw" ? SixLabors.ImageSharp.Formats.Tiff.Constants.TiffCompression.Lzw : SixLabors.ImageSharp.Formats.Tiff.Constants.TiffCompression.Deflate });
                return ms.ToArray();
            }
            case "gif":
                return TestFiles.Gif(8, 6, [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)], [.. Enumerable.Range(0, 48).Select(i => (byte)(i % 4))]);
            case "png16":
                return TestFiles.Png(40, 30, 16, 2, (x, y, s) => (x * 1500 + y * 700 + s * 9000) % 65536, 3);
            default:
                var format = kind switch { "png" => SKEncodedImageFormat.Png, "webp" => SKEncodedImageFormat.Webp, "bmp" => SKEncodedImageFormat.Bmp, _ => SKEncodedImageFormat.Jpeg };
                using (var data = bmp.Encode(format, 85))
                    return data?.ToArray() ?? throw new InvalidOperationException($"Skia cannot encode {kind}");
        }
    }

    [Theory]
    [InlineData("jpeg")]
    [InlineData("png")]
    [InlineData("png16")]
    [InlineData("webp")]
    [InlineData("gif")]
    [InlineData("tiff-lzw")]
    [InlineData("tiff-deflate")]
    public void Truncations_and_bit_flips_never_crash_the_decoder(string kind)
    {
        var original = Source(kind);
        var full = ImageDecoder.DecodeDetailed(original, "x");
        var variants = new List<(string Name, byte[] Bytes)>();
        foreach (var f in new[] { 0.0, 0.01, 0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.99 })
            variants.Add(($"cut at {f:P0}", original[..(int)(original.Length * f)]));
        var rng = new SeededRng((ulong)(kind.Length * 31));
        for (var i = 0; i < 40; i++)
        {
            var copy = (byte[])original.Clone();
            // Half the flips hit the first 64 bytes (signature, header, dimensions), half the rest (the image data).
            var at = i % 2 == 0 ? rng.NextInt(Math.Min(64, copy.Length)) : 64 + rng.NextInt(copy.Length - 64);
            copy[at] ^= (byte)(1 << rng.NextInt(8));
            variants.Add(($"bit flip at byte {at}", copy));
        }
        var outcomes = new Dictionary<string, int>();
        foreach (var (name, bytes) in variants)
        {
            string outcome;
            try
            {
                var d = ImageDecoder.DecodeDetailed(bytes, $"{kind} {name}", new DecodeOptions { MaxPixels = 50_000_000 });
                Assert.True(d.Image.Data.Length == d.Image.Channels * d.Image.Height * d.Image.Width && d.Image.Data.All(float.IsFinite), $"{kind} {name}: malformed image");
                outcome = d.Warnings.Count > 0 ? "decoded with a warning" : "decoded";
            }
            catch (ImageDecodeException e)
            {
                outcome = e.Failure.ToString();
                Assert.False(string.IsNullOrWhiteSpace(e.Reason));
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        // The intact file decodes; a cut at 0% (zero bytes) is always "empty".
        Assert.Equal(3, full.Image.Channels);
        Assert.True(outcomes.GetValueOrDefault("Empty") >= 1, string.Join(", ", outcomes));
    }

    [Fact]
    public void A_jpeg_cut_at_several_points_after_its_header_still_decodes_with_a_warning()
    {
        var original = Source("jpeg");
        var sos = original.AsSpan().IndexOf((ReadOnlySpan<byte>)[0xFF, 0xDA]);
        Assert.True(sos > 0);
        foreach (var f in new[] { 0.3, 0.5, 0.7, 0.9 })
        {
            var cut = Math.Max(sos + 20, (int)(original.Length * f));
            var d = ImageDecoder.DecodeDetailed(original[..cut], "cut.jpg");
            Assert.Equal((80, 60), (d.Width, d.Height));
            Assert.Contains("premature end", d.WarningText, StringComparison.OrdinalIgnoreCase);
        }
        // Cut inside the header: nothing to show, so it is refused as truncated.
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeDetailed(original[..(sos / 2)], "head.jpg"));
        Assert.Equal(DecodeFailure.Truncated, e.Failure);
        // Extraneous bytes before a marker: libjpeg-turbo warns and decodes.
        var padded = original[..(original.Length - 2)].Concat(new byte[] { 0x12, 0x34, 0x56 }).Concat(original[^2..]).ToArray();
        var p = ImageDecoder.DecodeDetailed(padded, "padded.jpg");
        Assert.Equal((80, 60), (p.Width, p.Height));
    }

    [Theory]
    [InlineData(new byte[0], DecodeFailure.Empty)]
    [InlineData(new byte[] { (byte)'8', (byte)'B', (byte)'P', (byte)'S', 0, 1, 0, 0 }, DecodeFailure.Unsupported)]
    [InlineData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, DecodeFailure.Corrupt)]
    public void Files_that_are_not_images_fail_with_their_category(byte[] bytes, DecodeFailure failure)
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeDetailed(bytes, "f.jpg"));
        Assert.Equal(failure, e.Failure);
    }

    [Fact]
    public void A_huge_declared_tiff_is_refused_before_allocating()
    {
        var tiff = Source("tiff-lzw");
        // Little-endian TIFF from ImageSharp: patch ImageWidth/ImageLength in IFD0 to 100000 x 100000.
        var ifd = BitConverter.ToInt32(tiff, 4);
        int count = BitConverter.ToUInt16(tiff, ifd);
        for (var i = 0; i < count; i++)
        {
            var entry = ifd + 2 + 12 * i;
            var tag = BitConverter.ToUInt16(tiff, entry);
            var type = BitConverter.ToUInt16(tiff, entry + 2);
            if (tag is 256 or 257)
            {
                if (type == 3)
                    BitConverter.GetBytes((ushort)50000).CopyTo(tiff, entry + 8);
                else
                    BitConverter.GetBytes(100000).CopyTo(tiff, entry + 8);
            }
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeDetailed(tiff, "bomb.tif"));
        Assert.Equal(DecodeFailure.TooLarge, e.Failure);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 20_000_000, "refused only after allocating pixel memory");
    }

    [Theory]
    [InlineData("photo.jpg", "JPEG", true)]
    [InlineData("IMG_0001.CR2", "RAW (CR2)", false)]
    [InlineData("scan.dng", "RAW (DNG)", false)]
    [InlineData("x.heic", "HEIC", false)]
    public void The_extension_names_camera_raw_files_even_with_tiff_bytes(string name, string expected, bool decodable)
    {
        byte[] head = name.EndsWith(".jpg", StringComparison.Ordinal) ? [0xFF, 0xD8, 0xFF, 0xE0] : name.EndsWith(".heic", StringComparison.Ordinal)
            ? [0, 0, 0, 0x18, .. "ftypheic"u8] : [.. "II*\0"u8, 8, 0, 0, 0];
        Assert.Equal(new FileFormat(expected, decodable), FileFormat.Detect(head, name));
    }
}
