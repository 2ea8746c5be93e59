using VisionRwkv.Datasets;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Labeling;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Labeling;

public sealed class LabelingUnitTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"rwkv-labeling-unit-{Guid.NewGuid():N}");

    public LabelingUnitTests() => Directory.CreateDirectory(root);

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Touch(string rel)
    {
        var p = Path.Combine(root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, rel);
        return p;
    }

    [Fact]
    public void Shard_hash_is_the_published_fnv1a_64()
    {
        // Test vectors of the FNV reference (isthe.com/chongo/tech/comp/fnv): FNV-1a 64 of "" and of "a".
        Assert.Equal(0xcbf29ce484222325UL, Shard.Hash(""));
        Assert.Equal(0xaf63dc4c8601ec8cUL, Shard.Hash("a"));
        Assert.Equal(Shard.Hash("a/b.jpg"), Shard.Hash("a\\b.jpg"));
    }

    [Fact]
    public void Shards_partition_the_files_and_come_from_kubernetes_or_slurm()
    {
        var paths = Enumerable.Range(0, 500).Select(i => $"roll{i % 9}/img_{i}.jpg").ToList();
        var shards = Enumerable.Range(0, 4).Select(i => new Shard(i, 4)).ToList();
        Assert.All(paths, p => Assert.Equal(1, shards.Count(s => s.Contains(p))));
        Assert.All(shards, s => Assert.InRange(paths.Count(s.Contains), 80, 170));
        Assert.Equal(new Shard(2, 5), Shard.Parse("2/5"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Shard.Parse("5/5"));
        Assert.Throws<FormatException>(() => Shard.Parse("two"));
        Dictionary<string, string> env = new() { ["JOB_COMPLETION_INDEX"] = "3" };
        Assert.Equal(new Shard(3, 8), Shard.FromEnvironment(k => env.GetValueOrDefault(k), 8));
        Assert.Throws<ArgumentException>(() => Shard.FromEnvironment(k => env.GetValueOrDefault(k), null));
        env = new() { ["SLURM_ARRAY_TASK_ID"] = "5", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "6" };
        Assert.Equal(new Shard(4, 6), Shard.FromEnvironment(k => env.GetValueOrDefault(k), null));
        Assert.Null(Shard.FromEnvironment(_ => null, null));
    }

    [Fact]
    public void Scan_applies_globs_hidden_files_and_symlinks_and_keeps_a_stable_order()
    {
        Touch("b/2.JPG");
        Touch("a/1.jpg");
        Touch("a/deep/3.png");
        Touch("a/skip/4.jpg");
        Touch(".cache/5.jpg");
        Touch("a/.6.jpg");
        Touch("a/1.jpg.xmp");
        File.CreateSymbolicLink(Path.Combine(root, "link.jpg"), Path.Combine(root, "a", "1.jpg"));
        Directory.CreateSymbolicLink(Path.Combine(root, "a", "loop"), root);

        var all = FileScanner.Scan([root], new ScanOptions());
        Assert.Equal(["a/1.jpg", "a/deep/3.png", "a/skip/4.jpg", "b/2.JPG"], all.Files.Select(f => f.RelativePath));
        Assert.Equal(2, all.Excluded["hidden"]);
        Assert.Equal(2, all.Excluded["symlink"]);
        Assert.Equal(1, all.Excluded["xmp sidecar"]);

        var jpgs = FileScanner.Scan([root], new ScanOptions { Include = ["*.jpg"], Exclude = ["a/skip/**"] });
        Assert.Equal(["a/1.jpg", "b/2.JPG"], jpgs.Files.Select(f => f.RelativePath));

        var everything = FileScanner.Scan([root], new ScanOptions { Hidden = true, FollowSymlinks = true });
        Assert.Contains(".cache/5.jpg", everything.Files.Select(f => f.RelativePath));
        Assert.Contains("link.jpg", everything.Files.Select(f => f.RelativePath));
        Assert.Equal(1, everything.Excluded["symlink loop"]);
        Assert.Equal(everything.Files.Select(f => f.Path).Order(StringComparer.Ordinal), everything.Files.Select(f => f.Path));
    }

    private sealed class FixedLabeler(bool multi, float[]? thresholds) : IImageLabeler
    {
        public string ModelId => "fixed@0";
        public IReadOnlyList<string> Labels { get; } = ["a", "b", "c", "d"];
        public bool MultiLabel => multi;
        public IReadOnlyList<float>? Thresholds => thresholds;
        public DataConfig Input => DataConfig.ImageNet();
        public float[] Score(Tensor images) => throw new NotSupportedException();
    }

    [Fact]
    public void Top_labels_follow_topk_the_score_threshold_and_per_label_thresholds()
    {
        float[] scores = [0.1f, 0.6f, 0.3f, 0.6f];
        var single = new FixedLabeler(false, null);
        Assert.Equal(["b", "d"], LabelJob.TopLabels(scores, single, new LabelOptions { OutputDirectory = root, TopK = 2 }).Select(l => l.Label));
        Assert.Equal(["b", "d", "c"], LabelJob.TopLabels(scores, single, new LabelOptions { OutputDirectory = root, TopK = 5, MinScore = 0.2f }).Select(l => l.Label));
        // Multi-label: each label against its own threshold (a: 0.05, b: 0.7, c: 0.2, d: 0.5).
        var multi = new FixedLabeler(true, [0.05f, 0.7f, 0.2f, 0.5f]);
        Assert.Equal(["d", "c", "a"], LabelJob.TopLabels(scores, multi, new LabelOptions { OutputDirectory = root, TopK = 5 }).Select(l => l.Label));
        Assert.Equal(["b", "d"], LabelJob.TopLabels(scores, new FixedLabeler(true, null), new LabelOptions { OutputDirectory = root }).Select(l => l.Label));
    }

    [Fact]
    public void Merging_journals_of_different_models_is_refused_unless_allowed()
    {
        JournalRow Row(string path, string model) => new() { Path = path, Status = LabelStatus.Labeled, ModelId = model, Labels = [new("x", 0.9f)], Time = Journal.Now() };
        using (var a = Journal.Open(Path.Combine(root, "a.sqlite")))
            a.Write([Row("/p/1.jpg", "m1@aaa")]);
        using (var b = Journal.Open(Path.Combine(root, "b.sqlite")))
            b.Write([Row("/p/2.jpg", "m2@bbb")]);
        var sources = new[] { Path.Combine(root, "a.sqlite"), Path.Combine(root, "b.sqlite") };
        var e = Assert.Throws<InvalidOperationException>(() => JournalMerge.Merge(sources, Path.Combine(root, "merged.sqlite")));
        Assert.Contains("--allow-mixed-models", e.Message);
        var report = JournalMerge.Merge(sources, Path.Combine(root, "merged2.sqlite"), allowMixedModels: true);
        Assert.Equal(2, report.RowsWritten);
        Assert.Equal(0, JournalMerge.Merge(sources, Path.Combine(root, "merged2.sqlite"), allowMixedModels: true).RowsWritten);
    }
}

/// <summary>The job's resume rules with a model-free labeler (fixed scores), so they run in milliseconds.</summary>
public sealed class LabelJobResumeTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"rwkv-labeling-resume-{Guid.NewGuid():N}");

    public void Dispose() => Directory.Delete(root, recursive: true);

    private sealed class ConstantLabeler : IImageLabeler
    {
        public string ModelId => "constant@1";
        public IReadOnlyList<string> Labels { get; } = ["x", "y"];
        public bool MultiLabel => false;
        public IReadOnlyList<float>? Thresholds => null;
        public DataConfig Input => DataConfig.ImageNet().WithSize(16);
        public float[] Score(Tensor images) => [.. Enumerable.Range(0, (int)images.shape[0]).SelectMany(_ => new[] { 0.75f, 0.25f })];
    }

    private static void Png(string path, byte shade)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bmp = new SkiaSharp.SKBitmap(20, 20);
        bmp.Erase(new SkiaSharp.SKColor(shade, shade, shade));
        using var data = bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    [Fact]
    public void With_content_hashes_a_touched_file_keeps_its_row_and_a_changed_one_is_labeled_again()
    {
        var photos = Path.Combine(root, "photos");
        Png(Path.Combine(photos, "a.png"), 10);
        Png(Path.Combine(photos, "b.png"), 200);
        var options = new LabelOptions { OutputDirectory = Path.Combine(root, "out"), ContentHash = true, BatchSize = 1, DecodeThreads = 1 };
        var labeler = new ConstantLabeler();
        var first = LabelJob.Run(labeler, [photos], options);
        Assert.Equal((2, 2), (first.Processed, first.Labeled));

        File.SetLastWriteTimeUtc(Path.Combine(photos, "a.png"), DateTime.UtcNow.AddHours(-5)); // touched: same bytes
        Png(Path.Combine(photos, "b.png"), 90);                                                // changed content
        File.SetLastWriteTimeUtc(Path.Combine(photos, "b.png"), DateTime.UtcNow.AddHours(-4));
        var second = LabelJob.Run(labeler, [photos], options);
        Assert.Equal(1, second.Processed);
        using var journal = Journal.Open(second.JournalPath);
        var rows = journal.ReadAll().ToDictionary(r => Path.GetFileName(r.Path));
        Assert.Equal(new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(photos, "a.png"))).ToUnixTimeMilliseconds(), rows["a.png"].MtimeMs);
        Assert.Equal(64, rows["b.png"].ContentHash!.Length);
        Assert.Equal([new LabelScore("x", 0.75f), new LabelScore("y", 0.25f)], rows["a.png"].Labels);

        // Without a change, nothing is processed; with --force everything is.
        Assert.Equal(0, LabelJob.Run(labeler, [photos], options).Processed);
        Assert.Equal(2, LabelJob.Run(labeler, [photos], options with { Force = true }).Processed);
    }
}
