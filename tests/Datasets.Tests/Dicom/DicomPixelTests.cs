using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Imaging.Dicom;
using VisionRwkv.Datasets.Imaging.Dicom.Codecs;

namespace VisionRwkv.Datasets.Tests.Dicom;

public sealed class DicomPixelTests
{
    private const string ExplicitLe = "1.2.840.10008.1.2.1";

    private static DicomFile Mono16(int[] values, int rows, int cols, string photometric = "MONOCHROME2", Action<DicomWriter>? extra = null, int bitsStored = 16, int pr = 0, int? frames = null)
    {
        var w = new DicomWriter().Text(0x0010, 0x0020, "LO", "P");
        extra?.Invoke(w);
        w.Pixels(rows, cols, 16, bitsStored, pr, photometric, frames: frames).PixelData16(values);
        return DicomFile.Parse(DicomWriter.Part10(ExplicitLe, w.ToArray()), "m.dcm");
    }

    [Fact]
    public void Frames_are_selected_by_index_and_equal_the_slices_of_all_frames()
    {
        var values = Enumerable.Range(0, 3 * 2 * 2).Select(i => i * 100).ToArray();
        var file = Mono16(values, 2, 2, frames: 3);
        var all = file.ReadPixels();
        Assert.Equal([3, 2, 2], all.Shape);
        for (var f = 0; f < 3; f++)
        {
            var one = file.ReadFrame(f);
            Assert.Equal([2, 2], one.Shape);
            Assert.Equal(Enumerable.Range(0, 4).Select(i => all[f * 4 + i]), Enumerable.Range(0, 4).Select(i => one[i]));
        }
        var e = Assert.Throws<DicomException>(() => file.ReadFrame(3));
        Assert.Contains("frame 3 does not exist", e.Reason, StringComparison.Ordinal);
        // The loader's frame option.
        var img = DicomImage.ToImage(file, new DicomOptions { Frame = 2, Window = VoiSelection.None });
        Assert.Equal(800 / 65535f, img.Data[0], 6);
    }

    [Fact]
    public void Monochrome1_is_inverted_and_the_default_maps_the_stored_range_to_0_1()
    {
        int[] v = [0, 1000, 65535];
        var m2 = DicomImage.ToImage(Mono16(v, 1, 3));
        var m1 = DicomImage.ToImage(Mono16(v, 1, 3, "MONOCHROME1"));
        Assert.Equal([0f, 1000 / 65535f, 1f], m2.Data);
        Assert.Equal(m2.Data.Select(x => 1 - x), m1.Data);
    }

    [Fact]
    public void Sixteen_bit_levels_stay_distinct_up_to_the_output()
    {
        var v = Enumerable.Range(0, 65536).ToArray();
        var img = DicomImage.ToImage(Mono16(v, 256, 256), new DicomOptions { Window = VoiSelection.None });
        Assert.Equal(65536, img.Data.Distinct().Count());
    }

    [Fact]
    public void Windows_are_chosen_by_index_none_or_explicit_center_and_width()
    {
        void Windows(DicomWriter w) => w.Text(0x0028, 0x1050, "DS", "100\\2000").Text(0x0028, 0x1051, "DS", "101\\4001");
        int[] v = [0, 50, 100, 150, 200, 4000];
        var file = Mono16(v, 1, 6, extra: Windows, bitsStored: 12);
        // LINEAR (C.11.2.1.2): c=100, w=101 maps [50, 150] onto [0, 4095].
        var first = DicomImage.ToImage(file).Data;
        Assert.Equal(0f, first[0]);
        Assert.Equal((50 - 99.5) / 100 + 0.5, first[1], 6);
        Assert.Equal((100 - 99.5) / 100 + 0.5, first[2], 6);
        Assert.Equal(1f, first[3]);
        var second = DicomImage.ToImage(file, new DicomOptions { Window = VoiSelection.Parse("1") }).Data;
        Assert.Equal((200 - 1999.5) / 4000 + 0.5, second[4], 6);
        Assert.Equal(1f, second[5]);
        var none = DicomImage.ToImage(file, new DicomOptions { Window = VoiSelection.Parse("none") }).Data;
        Assert.Equal(4000 / 4095.0, none[5], 6);
        var explicitWindow = DicomImage.ToImage(file, new DicomOptions { Window = VoiSelection.Parse("200,2") }).Data;
        Assert.Equal([0f, 0f, 0f, 0f, 1f, 1f], explicitWindow.Select(x => MathF.Round(x, 3)));
        Assert.Throws<DicomException>(() => DicomImage.ToImage(file, new DicomOptions { Window = VoiSelection.FromIndex(2) }));
        Assert.Throws<FormatException>(() => VoiSelection.Parse("1,0"));
        Assert.Throws<FormatException>(() => VoiSelection.Parse("wide"));
    }

    [Fact]
    public void The_xrv_range_is_2048_times_the_unit_value_minus_1024()
    {
        var file = Mono16([0, 32768, 65535], 1, 3);
        var unit = DicomImage.ToImage(file).Data;
        var xrv = DicomImage.ToImage(file, new DicomOptions { Range = DicomValueRange.Xrv }).Data;
        Assert.Equal(-1024f, xrv[0]);
        Assert.Equal(1024f, xrv[2]);
        Assert.Equal(unit.Select(u => u * 2048f - 1024f), xrv);
    }

    [Fact]
    public void Bits_above_bits_stored_are_masked_and_signed_values_sign_extended_before_the_luts()
    {
        // 12 stored bits, with garbage in the top nibble; signed: 0x0FFF is -1 in 12 bits.
        var unsigned = Mono16([0xF001, 0x0FFF], 1, 2, bitsStored: 12);
        Assert.Equal([1.0, 4095], DicomLut.StoredValues(unsigned.ReadPixels(), 0, unsigned.Dataset));
        Assert.Equal(0xF001, unsigned.ReadPixels()[0]); // stored values stay as pydicom returns them
        var signed = Mono16([0x0FFF, 0x0800, 0x07FF], 1, 3, bitsStored: 12, pr: 1);
        Assert.Equal([-1.0, -2048, 2047], DicomLut.StoredValues(signed.ReadPixels(), 0, signed.Dataset));
        // A codec's output is its value: a lossy overshoot past Bits Stored is kept, an unextended negative still extended.
        Assert.Equal([0xF001, 4095], DicomLut.StoredValues(unsigned.ReadPixels(), 0, unsigned.Dataset, compressed: true));
        Assert.Equal([-1.0, -2048, 2047], DicomLut.StoredValues(signed.ReadPixels(), 0, signed.Dataset, compressed: true));
    }

    [Fact]
    public void Rescale_slope_and_intercept_are_applied_in_double()
    {
        var file = Mono16([0, 1, 4095], 1, 3, extra: w => w.Text(0x0028, 0x1052, "DS", "-1024").Text(0x0028, 0x1053, "DS", "0.25"), bitsStored: 12);
        var values = DicomLut.ApplyModality(DicomLut.StoredValues(file.ReadPixels(), 0, file.Dataset), file.Dataset);
        Assert.Equal([-1024.0, -1023.75, 4095 * 0.25 - 1024], values);
        Assert.Equal(new ValueRange(-1024, 4095 * 0.25 - 1024), DicomLut.ModalityRange(file.Dataset));
    }

    [Fact]
    public void Declared_sizes_over_the_pixel_limit_are_refused_before_allocating()
    {
        var w = new DicomWriter().Pixels(65535, 65535, 16, 16, 0).PixelData16([1, 2]);
        var file = DicomFile.Parse(DicomWriter.Part10(ExplicitLe, w.ToArray()), "huge.dcm");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DicomException>(() => file.ReadPixels());
        Assert.Contains("exceeds the limit", e.Reason, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        // Many frames of a small image: more than one array holds.
        var frames = new DicomWriter().Pixels(4096, 4096, 32, 32, 0, frames: int.MaxValue).PixelData16([1, 2]);
        var many = DicomFile.Parse(DicomWriter.Part10(ExplicitLe, frames.ToArray()), "frames.dcm");
        Assert.Contains("more than one array holds", Assert.Throws<DicomException>(() => many.ReadPixels()).Reason, StringComparison.Ordinal);
        Assert.Contains("need", Assert.Throws<DicomException>(() => many.ReadFrame(5)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rle_segments_follow_packbits_including_the_no_op_header()
    {
        // 3 literal bytes, a no-op (-128), a run of 4 x 9, then a literal that the data cuts short.
        byte[] segment = [2, 1, 2, 3, 0x80, unchecked((byte)-3), 9, 5, 7];
        var output = new byte[10];
        var n = RleCodec.DecodeSegment(segment, output);
        Assert.Equal(8, n);
        Assert.Equal([1, 2, 3, 9, 9, 9, 9, 7, 0, 0], output);
    }

    [Fact]
    public void Rle_frames_with_the_wrong_segment_count_are_refused()
    {
        var frame = new byte[64 + 4];
        frame[0] = 2; // two segments for an 8-bit single-sample image
        frame[4] = 64;
        frame[8] = 66;
        var e = Assert.Throws<CodecException>(() => RleCodec.DecodeFrame(frame, 1, 2, 1, 8));
        Assert.Contains("declares 2 segments", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_decoder_routes_dicom_by_magic_or_extension_and_folders_pick_up_dcm()
    {
        using var dir = new TempDir();
        var bytes = DicomWriter.Part10(ExplicitLe, new DicomWriter().Pixels(2, 2, 16, 16, 0).PixelData16([0, 65535, 0, 65535]).ToArray());
        var noExtension = dir.File("a/IM0001");
        File.WriteAllBytes(noExtension, bytes);
        var raw = new DicomWriter().Pixels(1, 2, 16, 16, 0).PixelData16([0, 65535]).ToArray();
        var rawDcm = dir.File("b/raw.dcm");
        File.WriteAllBytes(rawDcm, raw); // no preamble: routed by extension
        var img = ImageDecoder.Decode(noExtension);
        Assert.Equal((1, 2, 2), (img.Channels, img.Height, img.Width));
        Assert.Equal([0f, 1f, 0f, 1f], img.Data);
        Assert.Equal([0f, 1f], ImageDecoder.Decode(rawDcm).Data);
        Assert.Equal(new ImageHeader("DICOM", 2, 2, 1, 1), ImageDecoder.ReadHeader(noExtension));
        Assert.Contains(".dcm", ImageDecoder.Extensions);
        var broken = dir.File("b/broken.dcm");
        File.WriteAllBytes(broken, bytes[..140]);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(broken));
        Assert.Equal(broken, e.Path);
    }

    [Fact]
    public void Palette_colour_and_ybr_files_become_rgb_images()
    {
        var palette = new DicomWriter()
            .Pixels(1, 3, 8, 8, 0, "PALETTE COLOR")
            .US(0x0028, 0x1101, 3, 1, 16).US(0x0028, 0x1102, 3, 1, 16).US(0x0028, 0x1103, 3, 1, 16)
            .US(0x0028, 0x1201, 0, 65535, 0).US(0x0028, 0x1202, 65535, 0, 0).US(0x0028, 0x1203, 0, 0, 65535)
            .Element(0x7FE0, 0x0010, "OB", [0, 2, 3, 0]);
        var img = DicomImage.ToImage(DicomFile.Parse(DicomWriter.Part10(ExplicitLe, palette.ToArray()), "p.dcm"));
        Assert.Equal(3, img.Channels);
        // Index 0 is below the first mapped value 1: it takes entry 0; index 2 -> entry 1; 3 -> entry 2.
        Assert.Equal([0f, 1f, 0f, 1f, 0f, 0f, 0f, 0f, 1f], img.Data);
    }
}
