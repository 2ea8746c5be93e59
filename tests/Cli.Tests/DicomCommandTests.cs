using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets.Imaging.Dicom;
using VisionRwkv.Datasets.Tests.Dicom;

namespace VisionRwkv.Cli.Tests;

public sealed class DicomCommandTests
{
    private static string Write(string dir, string name, string patient, int frames, int bits, int pr)
    {
        var values = Enumerable.Range(0, frames * 3 * 4).Select(i => pr == 1 ? i * 311 % 4096 - 2048 : i * 5000 % 65536).ToArray();
        var w = new DicomWriter().Text(0x0008, 0x0060, "CS", "CR").Text(0x0010, 0x0020, "LO", patient)
            .Text(0x0028, 0x1050, "DS", "100").Text(0x0028, 0x1051, "DS", "400")
            .Pixels(3, 4, 16, bits, pr, frames: frames > 1 ? frames : null).PixelData16(values);
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, DicomWriter.Part10("1.2.840.10008.1.2.1", w.ToArray()));
        return path;
    }

    [Fact]
    public void Rwkv_dicom_prints_attributes_and_writes_previews_stored_values_and_a_manifest_table()
    {
        var dir = Directory.CreateTempSubdirectory("rwkv-dicom-cli-").FullName;
        try
        {
            var a = Write(dir, "a.dcm", "PAT-1", 1, 16, 0);
            var b = Write(dir, "b.dcm", "PAT-2", 3, 12, 1);
            var bad = Path.Combine(dir, "bad.dcm");
            File.WriteAllBytes(bad, File.ReadAllBytes(a)[..150]);
            var pixels = Path.Combine(dir, "px.safetensors");
            var csv = Path.Combine(dir, "m.csv");
            var (code, output) = CliRunner.Run(["dicom", a, b, bad, "--png", Path.Combine(dir, "png"), "--pixels", pixels, "--csv", csv]);
            Assert.Equal(1, code); // one file could not be read
            Assert.Contains("PAT-1", output);
            Assert.Contains("1.2.840.10008.1.2.1 (Explicit VR Little Endian)", output);
            Assert.Contains("0: center 100 width 400", output);
            Assert.Contains($"Cannot read DICOM '{bad}'", output);
            Assert.True(File.Exists(Path.Combine(dir, "png", "a.png")));
            Assert.True(File.Exists(Path.Combine(dir, "png", "b.png")));

            using var checkpoint = SafeTensors.Read(pixels);
            foreach (var (name, path) in new[] { ("a", a), ("b", b) })
            {
                var expected = DicomFile.Open(path).ReadPixels();
                var t = checkpoint.Tensors[name];
                Assert.Equal(expected.Shape.Select(d => (long)d), t.shape);
                var values = t.to_type(TorchSharp.torch.ScalarType.Int64).data<long>().ToArray();
                Assert.Equal(Enumerable.Range(0, (int)expected.Length).Select(i => expected[i]), values);
            }
            Assert.StartsWith("uint16 [3,4]", checkpoint.Metadata["a"], StringComparison.Ordinal);
            Assert.StartsWith("int16 [3,3,4]", checkpoint.Metadata["b"], StringComparison.Ordinal);

            var rows = File.ReadAllLines(csv);
            Assert.Equal(3, rows.Length);
            Assert.StartsWith("path,group,", rows[0], StringComparison.Ordinal);
            Assert.StartsWith($"{a},PAT-1,", rows[1], StringComparison.Ordinal);

            // Outputs are not overwritten without --force.
            var (again, message) = CliRunner.Run(["dicom", a, "--pixels", pixels]);
            Assert.Equal(1, again);
            Assert.Contains("already exists", message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Rwkv_dicom_rejects_a_malformed_window()
    {
        var (code, output) = CliRunner.Run(["dicom", "x.dcm", "--window", "10,-5"]);
        Assert.Equal(1, code);
        Assert.Contains("is not a window", output);
    }
}
