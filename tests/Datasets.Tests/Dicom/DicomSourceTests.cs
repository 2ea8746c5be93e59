using VisionRwkv.Datasets.Sources;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>DICOM files in folder and manifest datasets: loaded through the image decoder, grouped by Patient ID for splits.</summary>
public sealed class DicomSourceTests
{
    private static void WriteDicom(string path, string patient, int seed)
    {
        var w = new DicomWriter().Text(0x0010, 0x0020, "LO", patient).Pixels(4, 4, 16, 12, 0)
            .PixelData16(Enumerable.Range(0, 16).Select(i => (i * 97 + seed) % 4096));
        File.WriteAllBytes(path, DicomWriter.Part10("1.2.840.10008.1.2.1", w.ToArray()));
    }

    [Fact]
    public void A_manifest_without_a_group_column_splits_by_the_dicom_patient_id()
    {
        using var dir = new TempDir();
        var lines = new List<string> { "path,label" };
        for (var i = 0; i < 60; i++)
        {
            var name = $"img{i:00}.dcm";
            WriteDicom(dir.File(name), $"patient-{i % 13}", i);
            lines.Add($"{name},{(i % 2 == 0 ? "normal" : "effusion")}");
        }
        File.WriteAllLines(dir.File("manifest.csv"), lines);
        var ds = ManifestDataset.Open(dir.File("manifest.csv"));
        Assert.Equal("patient-5", ds.GroupOf(5));
        var split = DatasetSplit.ByGroup(ds, 0.25, seed: 3);
        var trainPatients = split.Train.Select(ds.GroupOf).ToHashSet();
        var valPatients = split.Val.Select(ds.GroupOf).ToHashSet();
        Assert.NotEmpty(valPatients);
        Assert.Empty(trainPatients.Intersect(valPatients));
        Assert.Equal(60, split.Train.Length + split.Val.Length);
        // And the pixels load through the same decoder as every other image.
        var img = ds.Load(0, VisionRwkv.Datasets.Imaging.DecodeOptions.Default);
        Assert.Equal((1, 4, 4), (img.Channels, img.Height, img.Width));
    }

    [Fact]
    public void A_group_column_wins_over_the_patient_id_and_can_be_switched_off()
    {
        using var dir = new TempDir();
        WriteDicom(dir.File("a.dcm"), "P1", 1);
        WriteDicom(dir.File("b.dcm"), "P2", 2);
        File.WriteAllLines(dir.File("m.csv"), ["path,label,group", "a.dcm,x,site-A", "b.dcm,y,"]);
        var ds = ManifestDataset.Open(dir.File("m.csv"));
        Assert.Equal("site-A", ds.GroupOf(0));
        Assert.Equal("P2", ds.GroupOf(1)); // empty cell: the DICOM header fills it
        var off = ManifestDataset.Open(dir.File("m.csv"), new ManifestOptions { DicomPatientGroups = false });
        Assert.Null(off.GroupOf(1));
    }

    [Fact]
    public void Image_folders_pick_up_dcm_files_and_group_them_by_patient()
    {
        using var dir = new TempDir();
        WriteDicom(dir.File("normal/a.dcm"), "P1", 1);
        WriteDicom(dir.File("effusion/b.dcm"), "P1", 2);
        WriteDicom(dir.File("effusion/c.dcm"), "P9", 3);
        TestFiles.EncodeGray(4, 4, (x, y) => (byte)(x * 60), dir.File("normal/photo.png"), SkiaSharp.SKEncodedImageFormat.Png);
        var ds = new ImageFolderDataset(dir.Path);
        Assert.Equal(4, ds.Count);
        var groups = Enumerable.Range(0, ds.Count).ToDictionary(i => Path.GetFileName(ds.NameOf(i)), ds.GroupOf);
        Assert.Equal("P1", groups["a.dcm"]);
        Assert.Equal("P1", groups["b.dcm"]);
        Assert.Equal("P9", groups["c.dcm"]);
        Assert.Null(groups["photo.png"]);
    }
}
