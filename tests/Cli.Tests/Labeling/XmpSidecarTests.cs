using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using SkiaSharp;
using VisionRwkv.Labeling;

namespace VisionRwkv.Cli.Tests.Labeling;

/// <summary>
/// XMP sidecars checked with exiftool (an independent XMP reader and writer): metadata written by exiftool survives our
/// merge value for value, our keywords appear once, a second run leaves the bytes alone, images are never modified.
/// </summary>
public sealed class XmpSidecarTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"rwkv-xmp-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    private static string? ExifTool(params string[] args)
    {
        var psi = new ProcessStartInfo("exiftool") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"exiftool {string.Join(' ', args)}: {output}");
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Every XMP tag exiftool reads from a file, as group:tag → JSON value.</summary>
    private static Dictionary<string, string> Tags(string path)
    {
        using var doc = JsonDocument.Parse(ExifTool("-j", "-G1", "-XMP:all", "-struct", path)!);
        return doc.RootElement[0].EnumerateObject().Where(p => p.Name != "SourceFile").ToDictionary(p => p.Name, p => p.Value.GetRawText());
    }

    private static List<string> List(Dictionary<string, string> tags, string key) =>
        tags.TryGetValue(key, out var v) ? (v.StartsWith('[') ? JsonSerializer.Deserialize<List<string>>(v)! : [JsonSerializer.Deserialize<string>(v)!]) : [];

    [SkippableFact]
    public void Existing_metadata_survives_the_merge_and_a_second_run_changes_nothing()
    {
        Skip.If(ExifTool("-ver") is null, "exiftool is not installed (apt-get install libimage-exiftool-perl; scripts/prereqs.sh installs it)");
        var (ckpt, classes) = LabelFixtures.TinyModel(Path.Combine(root, "model"));
        var photos = Path.Combine(root, "photos");
        Directory.CreateDirectory(photos);
        // A photo with embedded metadata and no sidecar; a photo with an exiftool-written sidecar; a photo with nothing.
        var embedded = Path.Combine(photos, "embedded.jpg");
        var withSidecar = Path.Combine(photos, "sidecar.jpg");
        var plain = Path.Combine(photos, "plain.jpg");
        File.WriteAllBytes(embedded, LabelFixtures.Photo(64, 48, 1));
        File.WriteAllBytes(withSidecar, LabelFixtures.Photo(64, 48, 2));
        File.WriteAllBytes(plain, LabelFixtures.Photo(64, 48, 3));
        string[] metadata = ["-XMP-dc:Subject=holiday", "-XMP-dc:Subject=beach, sand", "-XMP-lr:HierarchicalSubject=Places|Spain|Cádiz",
            "-XMP-xmp:Rating=4", "-XMP-dc:Title=Evening at the pier", "-XMP-dc:Creator=Ana", "-XMP-digiKam:TagsList=People/Ana",
            "-XMP-dc:Description=<b>bold</b> & co", "-XMP-iptcExt:PersonInImage=Ana", "-XMP-exif:GPSLatitude=36.5 N",
            "-XMP-mwg-rs:RegionAppliedToDimensionsW=64", "-IPTC:Keywords=holiday"];
        ExifTool(["-overwrite_original", .. metadata, embedded]);
        var sidecar = withSidecar + ".xmp";
        ExifTool(["-o", sidecar, .. metadata.Where(m => !m.StartsWith("-IPTC", StringComparison.Ordinal)), withSidecar]);
        var before = Tags(sidecar);
        var beforeText = File.ReadAllText(sidecar);
        var embeddedHash = SHA256.HashData(File.ReadAllBytes(embedded));
        var imageHashes = new[] { embedded, withSidecar, plain }.ToDictionary(p => p, p => SHA256.HashData(File.ReadAllBytes(p)));

        // --dry-run: the plan is printed, nothing is written.
        var outDir = Path.Combine(root, "out");
        string[] args = ["label", .. LabelFixtures.ModelArgs(ckpt, classes), photos, "--out", outDir, "--top-k", "3", "--xmp", "sidecar", "--xmp-min-score", "0", "--export", "none"];
        var (code, output) = CliRunner.Run([.. args, "--dry-run"]);
        Assert.True(code == 0, output);
        Assert.Contains("would update " + sidecar, output);
        Assert.Contains("would create " + plain + ".xmp", output);
        Assert.False(File.Exists(plain + ".xmp"));
        Assert.Equal(before, Tags(sidecar));

        (code, output) = CliRunner.Run([.. args, "--force"]);
        Assert.True(code == 0, output);
        var rows = LabelFixtures.Rows(Path.Combine(outDir, "labels.sqlite"));
        var after = Tags(sidecar);
        // Every tag exiftool wrote reads back with the same value, except the three keyword lists, which gained ours.
        string[] lists = ["XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList"];
        foreach (var (tag, value) in before.Where(t => !lists.Contains(t.Key)))
            Assert.True(after.TryGetValue(tag, out var now) && now == value, $"{tag} was {value}, now {(after.TryGetValue(tag, out var n) ? n : "missing")}");
        var ours = rows[withSidecar].Labels.Select(l => l.Label).ToList();
        Assert.Equal(3, ours.Count);
        Assert.Equal(["holiday", "beach, sand", .. ours], List(after, "XMP-dc:Subject"));
        Assert.Equal(["Places|Spain|Cádiz", .. ours.Select(l => "AI|vrwkv_mini_32|" + l)], List(after, "XMP-lr:HierarchicalSubject"));
        Assert.Equal(["People/Ana", .. ours.Select(l => "AI/vrwkv_mini_32/" + l)], List(after, "XMP-digiKam:TagsList"));
        // Byte for byte, the merge only inserted lines: without our rdf:li lines the file is exactly what exiftool wrote.
        var inserted = ours.Concat(ours.Select(l => "AI|vrwkv_mini_32|" + l)).Concat(ours.Select(l => "AI/vrwkv_mini_32/" + l))
            .Select(v => $"<rdf:li>{System.Security.SecurityElement.Escape(v)}</rdf:li>").ToHashSet();
        var afterLines = File.ReadAllText(sidecar).Split('\n');
        Assert.Equal(inserted.Count, afterLines.Count(l => inserted.Contains(l.Trim())));
        Assert.Equal(beforeText, string.Join('\n', afterLines.Where(l => !inserted.Contains(l.Trim()))));

        // New sidecars hold only our keywords; exiftool reads them; images are untouched.
        var created = Tags(plain + ".xmp");
        Assert.Equal(rows[plain].Labels.Select(l => l.Label), List(created, "XMP-dc:Subject"));
        Assert.Equal(rows[embedded].Labels.Select(l => "AI|vrwkv_mini_32|" + l.Label), List(Tags(embedded + ".xmp"), "XMP-lr:HierarchicalSubject"));
        foreach (var (path, hash) in imageHashes)
            Assert.Equal(hash, SHA256.HashData(File.ReadAllBytes(path)));
        Assert.Contains("Evening at the pier", ExifTool("-XMP-dc:Title", embedded));

        // A second run (even with --force, which labels again) leaves every sidecar byte-identical.
        var sidecars = Directory.GetFiles(photos, "*.xmp").ToDictionary(p => p, File.ReadAllBytes);
        Assert.Equal(3, sidecars.Count);
        (code, output) = CliRunner.Run([.. args, "--force"]);
        Assert.True(code == 0, output);
        Assert.Contains("0 created, 0 updated, 3 unchanged", output);
        foreach (var (path, bytes) in sidecars)
            Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void Lightroom_naming_writes_photo_xmp_and_a_sidecar_that_is_not_xmp_is_left_alone()
    {
        var (ckpt, classes) = LabelFixtures.TinyModel(Path.Combine(root, "model"));
        var photos = Path.Combine(root, "photos");
        Directory.CreateDirectory(photos);
        File.WriteAllBytes(Path.Combine(photos, "a.jpg"), LabelFixtures.Photo(40, 30, 4));
        File.WriteAllBytes(Path.Combine(photos, "b.png"), LabelFixtures.Photo(40, 30, 5, SKEncodedImageFormat.Png));
        File.WriteAllText(Path.Combine(photos, "b.xmp"), "this is not XML");
        var (code, output) = CliRunner.Run(["label", .. LabelFixtures.ModelArgs(ckpt, classes), photos, "--out", Path.Combine(root, "out"),
            "--xmp", "sidecar", "--xmp-naming", "lightroom", "--xmp-min-score", "0", "--xmp-root", "Auto|Tags", "--export", "none"]);
        Assert.True(code == 0, output);
        var xmp = File.ReadAllText(Path.Combine(photos, "a.xmp"));
        Assert.Contains("<rdf:li>Auto|Tags|", xmp, StringComparison.Ordinal);
        Assert.Contains("<rdf:li>Auto/Tags/", xmp, StringComparison.Ordinal);
        Assert.Equal("this is not XML", File.ReadAllText(Path.Combine(photos, "b.xmp")));
        Assert.Contains("b.xmp", output);
        Assert.Contains("left unchanged", output);
    }
}
