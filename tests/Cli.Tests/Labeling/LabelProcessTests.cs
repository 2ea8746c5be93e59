using System.Diagnostics;
using SkiaSharp;
using VisionRwkv.Labeling;

namespace VisionRwkv.Cli.Tests.Labeling;

/// <summary>
/// `rwkv label` as separate processes: killed with SIGKILL at several points and restarted, and as three shard processes
/// running at once. Each ends with the same journal, row for row, as one uninterrupted run.
/// </summary>
public sealed class LabelProcessTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"rwkv-label-proc-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    /// <summary>Tiny photos in nested folders, plus a few that are skipped or unsupported.</summary>
    private (string Photos, string[] Model) MakeCollection(int count)
    {
        var photos = Path.Combine(root, "photos");
        for (var i = 0; i < count; i++)
        {
            var p = Path.Combine(photos, $"roll{i % 7}", $"img_{i:D4}.{(i % 3 == 0 ? "png" : "jpg")}");
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllBytes(p, LabelFixtures.Photo(24 + i % 9, 20 + i % 5, i, i % 3 == 0 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg));
        }
        File.WriteAllBytes(Path.Combine(photos, "roll1", "broken.jpg"), "xx"u8.ToArray());
        File.WriteAllBytes(Path.Combine(photos, "roll2", "empty.png"), []);
        File.WriteAllBytes(Path.Combine(photos, "roll3", "IMG_1.HEIC"), LabelFixtures.Heic());
        var (ckpt, classes) = LabelFixtures.TinyModel(Path.Combine(root, "model"));
        return (photos, LabelFixtures.ModelArgs(ckpt, classes));
    }

    private static string[] LabelArgs(string[] model, string photos, string outDir, params string[] more) =>
        ["label", .. model, photos, "--out", outDir, "--batch-size", "2", "--threads", "1", "--torch-threads", "1", "--export", "none", "--input-size", "32", .. more];

    [Fact]
    [Trait("Category", "Process")]
    public void Killed_runs_resume_to_the_same_journal_as_an_uninterrupted_run()
    {
        var (photos, model) = MakeCollection(240);
        var reference = Path.Combine(root, "reference");
        var (code, output) = LabelFixtures.RunProcess(LabelArgs(model, photos, reference, "--xmp", "sidecar", "--xmp-min-score", "0", "--dry-run"));
        Assert.True(code == 2, output);
        var expected = LabelFixtures.Rows(Path.Combine(reference, "labels.sqlite"));
        Assert.Equal(243, expected.Count);

        // Kill at three depths of the same job (after the first rows, about a third, about two thirds), then finish it.
        var outDir = Path.Combine(root, "resumed");
        var journal = Path.Combine(outDir, "labels.sqlite");
        var killedAt = new List<int>();
        foreach (var target in new[] { 1, 80, 160 })
        {
            using var p = LabelFixtures.Start(LabelArgs(model, photos, outDir, "--xmp", "sidecar", "--xmp-min-score", "0"));
            var rows = WaitForRows(p, journal, target);
            if (!p.HasExited)
            {
                p.Kill(); // SIGKILL on Linux: no finally blocks, no flush
                p.WaitForExit();
            }
            killedAt.Add(rows);
        }
        Assert.True(killedAt.Any(n => n < expected.Count), $"every process finished before it was killed (rows at kill: {string.Join(", ", killedAt)})");
        (code, output) = LabelFixtures.RunProcess(LabelArgs(model, photos, outDir, "--xmp", "sidecar", "--xmp-min-score", "0"));
        Assert.True(code == 2, output);
        LabelFixtures.AssertSameRows(expected, LabelFixtures.Rows(journal));

        // Each labeled photo's sidecar holds its keywords exactly once, however often the batch was redone.
        foreach (var row in expected.Values.Where(r => r.Status == LabelStatus.Labeled))
        {
            var xmp = File.ReadAllText(row.Path + ".xmp");
            foreach (var label in LabelFixtures.Rows(journal)[row.Path].Labels)
                Assert.Equal(1, CountOf(xmp, $"<rdf:li>{label.Label}</rdf:li>"));
        }
        // And a run after completion changes nothing.
        (code, output) = LabelFixtures.RunProcess(LabelArgs(model, photos, outDir, "--xmp", "sidecar", "--xmp-min-score", "0"));
        Assert.Contains("243 already in the journal, 0 processed", output);
    }

    [Fact]
    [Trait("Category", "Process")]
    public void Three_shards_in_parallel_merge_to_the_single_process_journal()
    {
        var (photos, model) = MakeCollection(90);
        var single = Path.Combine(root, "single");
        var (code, output) = LabelFixtures.RunProcess(LabelArgs(model, photos, single));
        Assert.True(code == 2, output);
        var expected = LabelFixtures.Rows(Path.Combine(single, "labels.sqlite"));

        var shared = Path.Combine(root, "shared");
        // Shard 0 by --shard, shard 1 as a Kubernetes Indexed Job, shard 2 as a Slurm array task.
        var processes = new[]
        {
            LabelFixtures.Start(LabelArgs(model, photos, shared, "--shard", "0/3")),
            LabelFixtures.Start(LabelArgs(model, photos, shared), new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "1", ["RWKV_SHARDS"] = "3" }),
            LabelFixtures.Start(LabelArgs(model, photos, shared), new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "2", ["SLURM_ARRAY_TASK_COUNT"] = "3" }),
        };
        var counts = new List<int>();
        foreach (var p in processes)
        {
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode is 0 or 2, text);
            p.Dispose();
        }
        for (var i = 0; i < 3; i++)
        {
            var rows = LabelFixtures.Rows(Path.Combine(shared, $"labels.shard-{i:D3}-of-003.sqlite"));
            Assert.NotEmpty(rows);
            counts.Add(rows.Count);
        }
        Assert.Equal(expected.Count, counts.Sum());

        (code, output) = LabelFixtures.RunProcess(["label", "merge", shared, "--export", "csv"]);
        Assert.True(code == 0, output);
        LabelFixtures.AssertSameRows(expected, LabelFixtures.Rows(Path.Combine(shared, "labels.sqlite")));
        // Merging again changes nothing.
        (code, output) = LabelFixtures.RunProcess(["label", "merge", shared, "--export", "none"]);
        Assert.Contains("0 rows written", output);
        LabelFixtures.AssertSameRows(expected, LabelFixtures.Rows(Path.Combine(shared, "labels.sqlite")));
    }

    /// <summary>Polls the journal until it has <paramref name="target"/> rows or the process ends; returns the count seen.</summary>
    private static int WaitForRows(Process p, string journal, int target)
    {
        var clock = Stopwatch.StartNew();
        var n = 0;
        while (!p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            if (File.Exists(journal))
            {
                try
                {
                    using var j = Journal.Open(journal);
                    n = j.Count();
                }
                catch (Microsoft.Data.Sqlite.SqliteException)
                {
                    // The writer is mid-checkpoint; ask again.
                }
                if (n >= target)
                    return n;
            }
            Thread.Sleep(15);
        }
        return n;
    }

    private static int CountOf(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
            n++;
        return n;
    }
}
