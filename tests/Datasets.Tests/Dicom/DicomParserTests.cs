using System.IO.Compression;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Tests.Dicom;

public sealed class DicomParserTests
{
    private const string ExplicitLe = "1.2.840.10008.1.2.1";
    private const string ImplicitLe = "1.2.840.10008.1.2";
    private const string ExplicitBe = "1.2.840.10008.1.2.2";
    private const string Deflated = "1.2.840.10008.1.2.1.99";

    /// <summary>A 2x3 16-bit image with a patient id, in the given encoding.</summary>
    private static DicomWriter Image(bool explicitVr, bool little) => new DicomWriter(explicitVr, little)
        .Text(0x0008, 0x0060, "CS", "CR")
        .Text(0x0010, 0x0020, "LO", "P-17")
        .Pixels(2, 3, 16, 12, 0)
        .PixelData16([0, 1, 2, 4000, 4094, 4095]);

    [Theory]
    [InlineData(ExplicitLe, true, true)]
    [InlineData(ImplicitLe, false, true)]
    [InlineData(ExplicitBe, true, false)]
    public void Part10_files_read_in_each_uncompressed_transfer_syntax(string ts, bool explicitVr, bool little)
    {
        var file = DicomFile.Parse(DicomWriter.Part10(ts, Image(explicitVr, little).ToArray()), "t.dcm");
        Assert.True(file.HasPreamble);
        Assert.Equal(ts, file.TransferSyntax.Uid);
        Assert.Equal("P-17", file.Info.PatientId);
        Assert.Equal((2, 3), (file.Info.Rows, file.Info.Columns));
        var px = file.ReadPixels();
        Assert.Equal(PixelDataType.UInt16, px.Type);
        Assert.Equal([0L, 1, 2, 4000, 4094, 4095], Enumerable.Range(0, 6).Select(i => px[i]));
    }

    [Fact]
    public void Deflated_datasets_are_inflated()
    {
        var body = Image(true, true).ToArray();
        using var ms = new MemoryStream();
        using (var z = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(body);
        var file = DicomFile.Parse(DicomWriter.Part10(Deflated, ms.ToArray()), "t.dcm");
        Assert.Equal("P-17", file.Info.PatientId);
        Assert.Equal(4095, file.ReadPixels()[5]);
    }

    [Fact]
    public void A_deflate_bomb_stops_at_the_size_limit()
    {
        using var ms = new MemoryStream();
        using (var z = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(new byte[4 << 20]); // 4 MiB of zeros deflates to a few KiB
        var data = DicomWriter.Part10(Deflated, ms.ToArray());
        var e = Assert.Throws<DicomException>(() => DicomFile.Parse(data, "bomb.dcm", new DicomOptions { MaxFileBytes = 1 << 20 }));
        Assert.Contains("inflates to more than", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void Raw_datasets_without_preamble_or_meta_are_recognised_like_pydicom(bool explicitVr, bool little)
    {
        var file = DicomFile.Parse(Image(explicitVr, little).ToArray(), "raw");
        Assert.False(file.HasPreamble);
        Assert.Equal(explicitVr, file.TransferSyntax.ExplicitVr);
        Assert.Equal(little, file.TransferSyntax.LittleEndian);
        Assert.Equal("P-17", file.Info.PatientId);
        Assert.Equal(4000, file.ReadPixels()[3]);
    }

    [Fact]
    public void Sequences_of_defined_and_undefined_length_nest_and_are_skipped_correctly()
    {
        foreach (var explicitVr in new[] { true, false })
        {
            var inner = new DicomWriter(explicitVr).Text(0x0008, 0x0100, "SH", "CODE1");
            var outer1 = new DicomWriter(explicitVr).Sequence(0x0008, 0x2228, undefinedLength: true, undefinedItems: true, inner);
            var outer2 = new DicomWriter(explicitVr).Text(0x0008, 0x0104, "LO", "second");
            var w = new DicomWriter(explicitVr)
                .Sequence(0x0008, 0x1140, undefinedLength: false, undefinedItems: false, outer1, outer2)
                .Sequence(0x0008, 0x2218, undefinedLength: true, undefinedItems: false, outer1)
                .Text(0x0010, 0x0020, "LO", "AFTER-SQ");
            var ds = DicomFile.Parse(w.ToArray(), "sq").Dataset;
            Assert.Equal("AFTER-SQ", ds.GetString(new DicomTag(0x0010, 0x0020)));
            var items = ds.GetItems(new DicomTag(0x0008, 0x1140));
            Assert.Equal(2, items.Count);
            Assert.Equal("second", items[1].GetString(new DicomTag(0x0008, 0x0104)));
            var nested = items[0].GetItems(new DicomTag(0x0008, 0x2228));
            Assert.Equal("CODE1", Assert.Single(nested).GetString(new DicomTag(0x0008, 0x0100)));
            Assert.Single(ds.GetItems(new DicomTag(0x0008, 0x2218)));
        }
    }

    [Fact]
    public void Private_tags_with_odd_lengths_are_kept_and_the_elements_after_them_read()
    {
        var w = new DicomWriter()
            .Text(0x0009, 0x0010, "LO", "ACME")
            .Element(0x0009, 0x1001, "OB", [1, 2, 3])      // odd length, no padding
            .Element(0x0009, 0x1002, "LO", "abc"u8.ToArray()) // odd length text
            .Element(0x0009, 0x1003, "UN", [9, 9, 9, 9, 9])
            .Text(0x0010, 0x0020, "LO", "P1");
        var ds = DicomFile.Parse(w.ToArray(), "odd").Dataset;
        Assert.Equal([1, 2, 3], ds.GetBytes(new DicomTag(0x0009, 0x1001)).ToArray());
        Assert.Equal("abc", ds.GetString(new DicomTag(0x0009, 0x1002)));
        Assert.Equal(5, ds.Get(new DicomTag(0x0009, 0x1003))!.Length);
        Assert.True(new DicomTag(0x0009, 0x1001).IsPrivate);
        Assert.Equal("P1", ds.GetString(new DicomTag(0x0010, 0x0020)));
    }

    [Fact]
    public void An_undefined_length_UN_element_is_read_as_an_implicit_VR_sequence()
    {
        var item = new DicomWriter(explicitVr: false).Text(0x0008, 0x0100, "SH", "X1");
        var seq = new DicomWriter(explicitVr: false).Sequence(0x0009, 0x1010, true, true, item).ToArray();
        // Rewrite the implicit header (tag + length 4 bytes) as an explicit UN header with undefined length.
        var w = new DicomWriter().Header(0x0009, 0x1010, "UN", 0xFFFFFFFF).Raw(seq[8..]).Text(0x0010, 0x0020, "LO", "P2");
        var ds = DicomFile.Parse(w.ToArray(), "un").Dataset;
        Assert.Equal("X1", Assert.Single(ds.GetItems(new DicomTag(0x0009, 0x1010))).GetString(new DicomTag(0x0008, 0x0100)));
        Assert.Equal("P2", ds.GetString(new DicomTag(0x0010, 0x0020)));
    }

    [Fact]
    public void A_VOI_LUT_sequence_of_defined_length_is_parsed_in_implicit_VR()
    {
        var lut = new DicomWriter(false).US(0x0028, 0x3002, 4, 0, 8).US(0x0028, 0x3006, 10, 20, 30, 40);
        var w = new DicomWriter(false).Pixels(1, 4, 16, 16, 0).Sequence(0x0028, 0x3010, false, false, lut).PixelData16([0, 1, 2, 3]);
        var file = DicomFile.Parse(DicomWriter.Part10(ImplicitLe, w.ToArray()), "voi");
        var values = DicomLut.ApplyVoi(DicomLut.StoredValues(file.ReadPixels(), 0, file.Dataset), file.Dataset, VoiSelection.First, out var range);
        Assert.Equal([10.0, 20, 30, 40], values);
        Assert.Equal(new ValueRange(0, 255), range);
    }

    [Fact]
    public void Explicit_VR_elements_without_letter_VR_bytes_are_read_as_implicit()
    {
        var implicitElement = new DicomWriter(explicitVr: false).Text(0x0010, 0x0020, "LO", "IMPL").ToArray();
        var w = new DicomWriter().Text(0x0008, 0x0060, "CS", "DX").Raw(implicitElement).Text(0x0010, 0x0040, "CS", "F");
        var ds = DicomFile.Parse(w.ToArray(), "mixed").Dataset;
        Assert.Equal("IMPL", ds.GetString(DicomTags.PatientId));
        Assert.Equal("F", ds.GetString(DicomTags.PatientSex));
    }

    [Fact]
    public void Unknown_compressed_transfer_syntaxes_are_named_in_the_error()
    {
        var w = new DicomWriter().Pixels(2, 2, 8, 8, 0).Encapsulated(null, [1, 2, 3, 4]);
        var file = DicomFile.Parse(DicomWriter.Part10("1.2.840.10008.1.2.4.100", w.ToArray()), "mpeg.dcm");
        var e = Assert.Throws<DicomException>(() => file.ReadPixels());
        Assert.Equal("unsupported transfer syntax 1.2.840.10008.1.2.4.100 (MPEG2 Main Profile / Main Level)", e.Reason);
        var unknown = DicomFile.Parse(DicomWriter.Part10("1.2.3.4.5", w.ToArray()), "odd.dcm");
        Assert.Equal("unsupported transfer syntax 1.2.3.4.5 (unknown transfer syntax)", Assert.Throws<DicomException>(() => unknown.ReadPixels()).Reason);
    }

    [Fact]
    public void A_length_past_the_end_inside_a_sequence_names_the_element_and_offset()
    {
        var item = new DicomWriter().Header(0x0008, 0x0100, "SH", 200).Raw("short"u8.ToArray());
        var w = new DicomWriter().Sequence(0x0008, 0x1140, true, true, item);
        var e = Assert.Throws<DicomException>(() => DicomFile.Parse(DicomWriter.Part10(ExplicitLe, w.ToArray()), "bad.dcm"));
        Assert.Equal("bad.dcm", e.Path);
        Assert.Contains("(0008,0100)", e.Reason, StringComparison.Ordinal);
        Assert.NotNull(e.Offset);
        Assert.Contains("at byte", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_cut_inside_the_pixel_data_reads_its_header_and_reports_the_shortfall()
    {
        var data = DicomWriter.Part10(ExplicitLe, Image(true, true).ToArray());
        var cut = data[..^5];
        var file = DicomFile.Parse(cut, "cut.dcm");
        Assert.Equal("P-17", file.Info.PatientId);
        var e = Assert.Throws<DicomException>(() => file.ReadPixels());
        Assert.Contains("the file ends early", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Files_over_the_size_limit_are_refused_before_parsing()
    {
        var data = DicomWriter.Part10(ExplicitLe, Image(true, true).ToArray());
        var e = Assert.Throws<DicomException>(() => DicomFile.Parse(data, "big.dcm", new DicomOptions { MaxFileBytes = 100 }));
        Assert.Contains("over the limit of 100 bytes", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Deeply_nested_sequences_stop_at_the_depth_limit()
    {
        var w = new DicomWriter().Text(0x0008, 0x0100, "SH", "LEAF");
        for (var i = 0; i < 40; i++)
            w = new DicomWriter().Sequence(0x0008, 0x1140, true, true, w);
        var e = Assert.Throws<DicomException>(() => DicomFile.Parse(w.ToArray(), "deep"));
        Assert.Contains("nested deeper", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_only_reads_stop_before_the_pixel_data_and_grow_past_64_KiB_headers()
    {
        using var dir = new TempDir();
        var big = new string('x', 100_000);
        var w = new DicomWriter().Text(0x0008, 0x0060, "CS", "CR").Text(0x0040, 0xA160, "UT", big).Text(0x0010, 0x0020, "LO", "LATE")
            .Pixels(2, 3, 16, 12, 0).PixelData16([0, 1, 2, 3, 4, 5]);
        var path = dir.File("big-header.dcm");
        File.WriteAllBytes(path, DicomWriter.Part10(ExplicitLe, w.ToArray()));
        var header = DicomFile.OpenHeader(path);
        Assert.Equal("LATE", header.Info.PatientId);
        Assert.False(header.Dataset.Contains(DicomTags.PixelData));
        Assert.Equal("LATE", DicomGroups.PatientIdOf(path));
    }

    [Fact]
    public void Specific_character_set_decodes_utf8_and_latin1_patient_ids()
    {
        var utf8 = new DicomWriter().Text(0x0008, 0x0005, "CS", "ISO_IR 192").Element(0x0010, 0x0020, "LO", "Zoë-1 "u8.ToArray());
        Assert.Equal("Zoë-1", DicomFile.Parse(utf8.ToArray(), "u").Info.PatientId);
        var latin1 = new DicomWriter().Text(0x0008, 0x0005, "CS", "ISO_IR 100").Element(0x0010, 0x0020, "LO", [(byte)'Z', (byte)'o', 0xEB, (byte)' ']);
        Assert.Equal("Zoë", DicomFile.Parse(latin1.ToArray(), "l").Info.PatientId);
    }

    [Fact]
    public void A_malformed_attribute_the_pixels_do_not_need_leaves_its_field_empty()
    {
        var w = new DicomWriter().Text(0x0010, 0x0020, "LO", "P3").Text(0x0028, 0x0030, "DS", "abc\\0.1")
            .Pixels(1, 2, 16, 16, 0).PixelData16([7, 8]);
        var file = DicomFile.Parse(w.ToArray(), "spacing");
        Assert.Empty(file.Info.PixelSpacing);
        Assert.Equal("P3", file.Info.PatientId);
        Assert.Equal(8, file.ReadPixels()[1]);
    }
}
