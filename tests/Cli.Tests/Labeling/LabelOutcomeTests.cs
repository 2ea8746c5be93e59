using SkiaSharp;
using VisionRwkv.Labeling;

namespace VisionRwkv.Cli.Tests.Labeling;

/// <summary>`rwkv label` in-process on a folder with one file of every kind: every file gets exactly one expected row.</summary>
public sealed class LabelOutcomeTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"rwkv-label-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    private string Write(string rel, byte[] bytes)
    {
        var p = Path.Combine(root, "photos", rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Fact]
    public async Task Every_file_found_gets_exactly_one_row_with_the_expected_outcome()
    {
        var (ckpt, classes) = LabelFixtures.TinyModel(Path.Combine(root, "model"));
        var jpeg = LabelFixtures.Photo(96, 64, 1);
        var png = LabelFixtures.Photo(50, 40, 2, SKEncodedImageFormat.Png);
        var expected = new Dictionary<string, string>
        {
            [Write("a/ok.jpg", jpeg)] = "labeled",
            [Write("a/ok.png", png)] = "labeled",
            [Write("b/ok.webp", LabelFixtures.Photo(40, 40, 3, SKEncodedImageFormat.Webp))] = "labeled",
            [Write("b/png-named.jpg", png)] = "labeled",
            [Write("b/cut-half.jpg", jpeg[..(jpeg.Length / 2)])] = "labeled",
            [Write("c/cut.png", png[..(png.Length / 2)])] = "skipped: truncated",
            [Write("c/header-only.jpg", jpeg[..20])] = "skipped: truncated",
            [Write("c/empty.jpg", [])] = "skipped: empty",
            [Write("c/garbage.jpg", "not a photo at all"u8.ToArray())] = "skipped: corrupt",
            [Write("c/bomb.png", LabelFixtures.PngBomb(200_000, 200_000))] = "skipped: too_large",
            [Write("d/IMG_0001.HEIC", LabelFixtures.Heic())] = "unsupported: HEIC",
            [Write("d/DSC_0001.NEF", LabelFixtures.Nef())] = "unsupported: RAW (NEF)",
            [Write("d/layers.psd", LabelFixtures.Psd())] = "unsupported: PSD",
            [Write("d/clip.mp4", LabelFixtures.Mp4())] = "unsupported: video (MP4)",
            [Write("d/notes.txt", "hello"u8.ToArray())] = "unsupported: unknown (.txt)",
        };
        Write(".hidden/secret.jpg", jpeg);
        Write("a/.dotfile.jpg", jpeg);
        Write("a/ok.jpg.xmp", "<x/>"u8.ToArray());
        var outDir = Path.Combine(root, "out");

        var (code, output) = CliRunner.Run(["label", .. LabelFixtures.ModelArgs(ckpt, classes), Path.Combine(root, "photos"), "--out", outDir, "--export", "csv,jsonl,parquet", "--batch-size", "2"]);
        Assert.True(code == 2, "skipped files make the exit code 2:\n" + output);
        var rows = LabelFixtures.Rows(Path.Combine(outDir, "labels.sqlite"));
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), rows.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, outcome) in expected)
            Assert.True(LabelJob.OutcomeKey(rows[path]) == outcome, $"{Path.GetFileName(path)}: {LabelJob.OutcomeKey(rows[path])} ({rows[path].Error}), expected {outcome}");

        var cut = rows[expected.Keys.Single(k => k.EndsWith("cut-half.jpg", StringComparison.Ordinal))];
        Assert.Contains("premature end", cut.Warning, StringComparison.OrdinalIgnoreCase);
        var renamed = rows[expected.Keys.Single(k => k.EndsWith("png-named.jpg", StringComparison.Ordinal))];
        Assert.Contains("PNG but its extension is .jpg", renamed.Warning, StringComparison.Ordinal);
        var ok = rows[expected.Keys.Single(k => k.EndsWith("ok.jpg", StringComparison.Ordinal))];
        Assert.Equal((96, 64, 1, "JPEG"), (ok.Width, ok.Height, ok.Orientation, ok.Format));
        Assert.Equal(5, ok.Labels.Count);
        Assert.All(ok.Labels, l => Assert.Contains(l.Label, LabelFixtures.ClassNames));
        Assert.True(ok.Labels.Zip(ok.Labels.Skip(1)).All(p => p.First.Score >= p.Second.Score), "labels best first");
        Assert.InRange(ok.Labels.Sum(l => l.Score), 0.0, 1.0001);
        Assert.Contains("hidden 2", output);
        Assert.Contains("xmp sidecar 1", output);

        // Exports: one line per row (plus a header) in CSV and JSONL, the same rows in Parquet.
        Assert.Equal(expected.Count + 1, File.ReadAllLines(Path.Combine(outDir, "labels.csv")).Length);
        Assert.Equal(expected.Count, File.ReadAllLines(Path.Combine(outDir, "labels.jsonl")).Length);
        using (var s = File.OpenRead(Path.Combine(outDir, "labels.parquet")))
        {
            var back = (await Parquet.Serialization.ParquetSerializer.DeserializeAsync<ExportRow>(s)).Data;
            Assert.Equal(rows.Keys.Order(StringComparer.Ordinal), back.Select(r => r.Path));
            Assert.Equal(rows.Values.OrderBy(r => r.Path, StringComparer.Ordinal).Select(r => r.Status), back.Select(r => r.Status));
        }

        // A second run finds everything done; a changed file is labeled again; --force relabels all.
        (code, output) = CliRunner.Run(["label", .. LabelFixtures.ModelArgs(ckpt, classes), Path.Combine(root, "photos"), "--out", outDir, "--export", "none"]);
        Assert.Equal(2, code);
        Assert.Contains($"{expected.Count} already in the journal, 0 processed", output);
        var okPath = expected.Keys.Single(k => k.EndsWith("ok.png", StringComparison.Ordinal));
        File.WriteAllBytes(okPath, LabelFixtures.Photo(30, 30, 9, SKEncodedImageFormat.Png));
        (code, output) = CliRunner.Run(["label", .. LabelFixtures.ModelArgs(ckpt, classes), Path.Combine(root, "photos"), "--out", outDir, "--export", "none"]);
        Assert.Contains($"{expected.Count - 1} already in the journal, 1 processed", output);
        Assert.Equal((30, 30), (LabelFixtures.Rows(Path.Combine(outDir, "labels.sqlite"))[okPath].Width, LabelFixtures.Rows(Path.Combine(outDir, "labels.sqlite"))[okPath].Height));
        (code, output) = CliRunner.Run(["label", .. LabelFixtures.ModelArgs(ckpt, classes), Path.Combine(root, "photos"), "--out", outDir, "--export", "none", "--force"]);
        Assert.Contains($"0 already in the journal, {expected.Count} processed", output);
        Assert.Equal(expected.Count, LabelFixtures.Rows(Path.Combine(outDir, "labels.sqlite")).Count);
    }
}
