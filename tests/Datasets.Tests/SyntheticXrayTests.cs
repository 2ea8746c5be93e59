using System.Diagnostics;
using System.Text.Json;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Imaging.Dicom;
using VisionRwkv.Datasets.Sources;

namespace VisionRwkv.Datasets.Tests;

/// <summary>The library DICOM writer (checked against pydicom) and the synthetic X-ray set written in NIH's layout.</summary>
public sealed class SyntheticXrayTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static string? PythonWithPydicom()
    {
        foreach (var exe in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                if (Run(exe, ["-c", "import pydicom, numpy"]).Code == 0) return exe;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // not installed under this name
            }
        }
        return null;
    }

    private static (int Code, string Output) Run(string exe, string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"{exe} did not finish in 60 s"); }
        return (p.ExitCode, stdout + stderr.Result);
    }

    private const string ReadScript = """
        import json, sys, pydicom
        ds = pydicom.dcmread(sys.argv[1])
        a = ds.pixel_array
        print(json.dumps({"transfer": str(ds.file_meta.TransferSyntaxUID), "sop_class": str(ds.SOPClassUID),
            "sop": str(ds.SOPInstanceUID), "meta_sop": str(ds.file_meta.MediaStorageSOPInstanceUID),
            "patient": str(ds.PatientID), "study": str(ds.StudyInstanceUID), "photometric": str(ds.PhotometricInterpretation),
            "bits_allocated": int(ds.BitsAllocated), "bits_stored": int(ds.BitsStored), "high_bit": int(ds.HighBit),
            "center": float(ds.WindowCenter), "width": float(ds.WindowWidth), "rows": int(ds.Rows), "columns": int(ds.Columns),
            "dtype": str(a.dtype), "pixels": [int(v) for v in a.ravel()]}))
        """;

    [SkippableTheory]
    [InlineData(12)]
    [InlineData(16)]
    public void Pydicom_reads_the_written_file_with_its_attributes_and_exact_pixels(int bits)
    {
        var python = PythonWithPydicom();
        Skip.If(python is null, "pydicom not found (Debian: apt-get install python3-pydicom python3-numpy, or ./scripts/prereqs.sh)");
        int rows = 24, cols = 33; // odd width: the pixel data length is still even (16-bit)
        var pixels = new ushort[rows * cols];
        var rng = new Common.SeededRng(9);
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (ushort)rng.NextInt(1 << bits);
        pixels[0] = (ushort)((1 << bits) - 1);
        var info = new DicomGrayImageInfo("P123", DicomFileWriter.Uid("study"), DicomFileWriter.Uid("image"), bits, 1000.5, 3000);
        var path = dir.File("x.dcm");
        DicomFileWriter.Write(path, pixels, rows, cols, info);
        var script = dir.File("read.py");
        File.WriteAllText(script, ReadScript);
        var (code, output) = Run(python!, [script, path]);
        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.Equal("1.2.840.10008.1.2.1", r.GetProperty("transfer").GetString());
        Assert.Equal(DicomFileWriter.DigitalXRayForPresentation, r.GetProperty("sop_class").GetString());
        Assert.Equal(info.SopInstanceUid, r.GetProperty("sop").GetString());
        Assert.Equal(info.SopInstanceUid, r.GetProperty("meta_sop").GetString());
        Assert.Equal("P123", r.GetProperty("patient").GetString());
        Assert.Equal(info.StudyInstanceUid, r.GetProperty("study").GetString());
        Assert.Equal("MONOCHROME2", r.GetProperty("photometric").GetString());
        Assert.Equal(16, r.GetProperty("bits_allocated").GetInt32());
        Assert.Equal(bits, r.GetProperty("bits_stored").GetInt32());
        Assert.Equal(bits - 1, r.GetProperty("high_bit").GetInt32());
        Assert.Equal(1000.5, r.GetProperty("center").GetDouble());
        Assert.Equal(3000, r.GetProperty("width").GetDouble());
        Assert.Equal((rows, cols), (r.GetProperty("rows").GetInt32(), r.GetProperty("columns").GetInt32()));
        Assert.Equal("uint16", r.GetProperty("dtype").GetString());
        Assert.Equal(pixels.Select(p => (int)p), r.GetProperty("pixels").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void Uids_are_valid_deterministic_and_distinct()
    {
        var a = DicomFileWriter.Uid("a");
        Assert.Equal(a, DicomFileWriter.Uid("a"));
        Assert.NotEqual(a, DicomFileWriter.Uid("b"));
        Assert.Matches(@"^2\.25\.(0|[1-9][0-9]*)$", a);
        Assert.True(a.Length <= 64);
    }

    [Fact]
    public void Pixel_values_beyond_the_stored_bits_are_refused()
    {
        var info = new DicomGrayImageInfo("P", "1.2", "1.3", 12, 2048, 4096);
        var e = Assert.Throws<ArgumentException>(() => DicomFileWriter.Encode([4096], 1, 1, info));
        Assert.Contains("12 bits", e.Message);
    }

    private static readonly SyntheticXrayOptions Small = new() { Patients = 60, Size = 64, Seed = 11 };

    [Fact]
    public void The_synthetic_set_is_deterministic_and_read_by_the_nih_spec_with_boxes_matching_its_labels()
    {
        var a = SyntheticXray.Generate(dir.File("a/x"), Small);
        SyntheticXray.Generate(dir.File("b/x"), Small);
        var filesA = Directory.EnumerateFiles(dir.File("a/x"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir.File("a/x"), f)).Order().ToList();
        Assert.Equal(filesA, Directory.EnumerateFiles(dir.File("b/x"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir.File("b/x"), f)).Order());
        foreach (var f in filesA)
            Assert.True(File.ReadAllBytes(Path.Combine(dir.File("a/x"), f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir.File("b/x"), f))), f);

        var spec = $"nih:{dir.File("a/x")}?labels={string.Join(',', SyntheticXray.FindingNames)}";
        var splits = DataSources.Open(spec, 0.2, 1);
        Assert.Equal(SyntheticXray.FindingNames, splits.Classes.Names);
        Assert.Equal(a.Images, splits.Train.Count + splits.Validation!.Count + splits.Test!.Count);
        Assert.Equal(a.TestImages, splits.Test.Count);
        Assert.InRange(a.Images, 60, 180);

        // Every (image, finding) with a box is a positive in Data_Entry_2017.csv, and every positive has a box.
        var boxes = SyntheticXray.ReadBoxes(dir.File("a/x/findings_boxes.csv"));
        var (trainVal, test) = NihChestXray14.Open(dir.File("a/x"), SyntheticXray.FindingNames);
        var byName = trainVal.Items.Concat(test.Items).ToDictionary(i => i.ImageId);
        var boxed = boxes.Select(b => (Path.GetFileName(b.Image), b.Box.Label)).ToHashSet();
        foreach (var (image, box) in boxes)
        {
            Assert.True(File.Exists(dir.File("a/x/" + image)), image);
            Assert.InRange(box.X0, 0, box.X1 - 1);
            Assert.InRange(box.Y0, 0, box.Y1 - 1);
            Assert.InRange(box.X1, 1, 64);
            Assert.InRange(box.Y1, 1, 64);
            Assert.Equal(1f, byName[Path.GetFileName(image)].Targets[SyntheticXray.FindingNames.ToList().IndexOf(box.Label)]);
        }
        foreach (var item in byName.Values)
            for (int k = 0; k < item.Targets.Length; k++)
                Assert.Equal(item.Targets[k] == 1, boxed.Contains((item.ImageId, SyntheticXray.FindingNames[k])));

        // The DICOM files decode through the ordinary image path, windowed into [0, 1].
        var img = splits.Train.Load(0, DecodeOptions.Default);
        Assert.Equal((1, 64, 64), (img.Channels, img.Height, img.Width));
        Assert.InRange(img.Data.Max(), 0.5f, 1f);
        Assert.InRange(img.Data.Min(), 0f, 0.3f);
    }

    [Fact]
    public void Generating_into_a_folder_with_a_set_is_refused_and_leaves_it_untouched()
    {
        SyntheticXray.Generate(dir.File("s/x"), Small with { Patients = 3 });
        var csv = File.ReadAllText(dir.File("s/x/Data_Entry_2017.csv"));
        var e = Assert.Throws<IOException>(() => SyntheticXray.Generate(dir.File("s/x"), Small with { Patients = 5 }));
        Assert.Contains("Data_Entry_2017.csv", e.Message);
        Assert.Equal(csv, File.ReadAllText(dir.File("s/x/Data_Entry_2017.csv")));
    }

    [Fact]
    public void The_nih_labels_option_keeps_some_findings_and_rejects_a_name_nih_does_not_have()
    {
        File.WriteAllText(dir.File("n/Data_Entry_2017.csv"), "Image Index,Finding Labels,Patient ID\na.png,Mass|Hernia,1\nb.png,Hernia,2\n");
        var ds = NihChestXray14.Read(dir.File("n/Data_Entry_2017.csv"), dir.File("n"), ["Mass", "Nodule"]);
        Assert.Equal(["Mass", "Nodule"], ds.Classes.Names);
        var e = Assert.Throws<ArgumentException>(() => NihChestXray14.Read(dir.File("n/Data_Entry_2017.csv"), dir.File("n"), ["Tumour"]));
        Assert.Contains("Tumour", e.Message);
    }
}
