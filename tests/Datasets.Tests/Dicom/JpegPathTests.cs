using SkiaSharp;
using VisionRwkv.Datasets.Imaging.Dicom;
using VisionRwkv.Datasets.Imaging.Dicom.Codecs;
using VisionRwkv.Datasets.Imaging.Native;
using Xunit.Abstractions;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>
/// The 8-bit JPEG fast path (TurboJPEG raw planes + our libjpeg-6b upsampling) against our plain managed decoder, on
/// every 8-bit JPEG frame of the pydicom reference set and on JPEGs Skia writes here (several sizes, grey and colour).
/// </summary>
[Collection(PydicomCollection.Name)]
public sealed class JpegPathTests(PydicomReference reference, ITestOutputHelper output)
{
    private static void AssertSame(DecodedFrame fast, DecodedFrame slow, string what)
    {
        Assert.Equal((slow.Width, slow.Height, slow.Components), (fast.Width, fast.Height, fast.Components));
        var diff = Enumerable.Range(0, slow.Samples.Length).FirstOrDefault(i => fast.Samples[i] != slow.Samples[i], -1);
        Assert.True(diff < 0, $"{what}: sample {diff} is {(diff < 0 ? 0 : fast.Samples[diff])} from TurboJPEG, {(diff < 0 ? 0 : slow.Samples[diff])} from our decoder");
    }

    [SkippableFact]
    public void TurboJpeg_path_equals_our_decoder_on_the_reference_jpegs()
    {
        Skip.IfNot(TurboJpegPlanes.IsAvailable, "libturbojpeg is not installed");
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var frames = 0;
        foreach (var e in reference.Entries.Where(e => e.Category == "decoded" && e.TransferSyntax is "1.2.840.10008.1.2.4.50" or "1.2.840.10008.1.2.4.51"))
        {
            var file = DicomFile.Open(e.Path);
            var px = file.Dataset.Get(DicomTags.PixelData)!;
            foreach (var fragments in PixelDecoder.SplitFrames(file, px, file.FrameCount, PixelEncoding.JpegDct))
            {
                var bytes = fragments.SelectMany(f => px.FragmentBytes(f).ToArray()).ToArray();
                if (TurboJpegPlanes.TryDecode(bytes) is not { } fast)
                    continue; // 12-bit: our decoder only
                AssertSame(fast, JpegDecoder.Decode(bytes, long.MaxValue), e.Name);
                frames++;
            }
        }
        output.WriteLine($"8-bit JPEG frames decoded identically by both paths: {frames}");
        Assert.True(frames >= 10, $"only {frames} frames compared");
    }

    [SkippableFact]
    public void Damaged_reference_files_of_every_codec_give_named_errors()
    {
        // Truncations and byte flips of real compressed streams (JPEG lossless and 12-bit, JPEG-LS, JPEG 2000, RLE), the
        // native decoders included.
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var rng = new Random(DicomFuzzTests.FuzzSeed);
        var cases = 0;
        var errors = 0;
        foreach (var e in reference.Entries.Where(e => e.Category == "decoded" && new FileInfo(e.Path).Length < 400_000))
        {
            var data = File.ReadAllBytes(e.Path);
            var parsed = DicomFile.Parse(data, e.Path);
            if (parsed.TransferSyntax.Deflated)
                continue; // offsets are in the inflated stream
            var px = parsed.Dataset.Get(DicomTags.PixelData)!;
            for (var k = 0; k < 48; k++)
            {
                var mutant = k < 16 ? data[..(px.Offset + (int)((long)px.Length * k / 16))] : (byte[])data.Clone();
                for (var j = 0; k >= 16 && j < 1 + k % 5; j++)
                    mutant[px.Offset + rng.Next(Math.Max(1, px.Length))] ^= (byte)(1 + rng.Next(255));
                if (DicomFuzzTests.Exercise(mutant, $"{e.Name}-{k}") == "error")
                    errors++;
                cases++;
            }
        }
        output.WriteLine($"damaged reference files: {cases} cases, {errors} named errors, {cases - errors} still decode");
    }

    [SkippableTheory]
    [InlineData(1, 1, false)]
    [InlineData(7, 5, false)]
    [InlineData(16, 16, false)]
    [InlineData(33, 17, false)]
    [InlineData(64, 48, true)]
    [InlineData(3, 2, false)]
    [InlineData(101, 67, false)]
    [InlineData(101, 67, true)]
    public void TurboJpeg_path_equals_our_decoder_on_skia_jpegs(int width, int height, bool gray)
    {
        Skip.IfNot(TurboJpegPlanes.IsAvailable, "libturbojpeg is not installed");
        using var bmp = new SKBitmap(new SKImageInfo(width, height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rng = new Random(width * 1000 + height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
                bmp.SetPixel(x, y, new SKColor((byte)(x * 7 + rng.Next(40)), (byte)(y * 5 + rng.Next(40)), (byte)rng.Next(256)));
        }
        using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 80);
        var bytes = data.ToArray();
        var fast = TurboJpegPlanes.TryDecode(bytes);
        Assert.NotNull(fast);
        AssertSame(fast!, JpegDecoder.Decode(bytes, long.MaxValue), $"{width}x{height}");
    }
}
