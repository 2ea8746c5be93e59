using SkiaSharp;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;
using VisionRwkv.Datasets;

namespace VisionRwkv.Datasets.Tests;

public sealed class LoaderTests : IDisposable
{
    private readonly TempDir dir = new();

    public LoaderTests()
    {
        // 30 small photos in 3 classes, sizes varying so crops and resizes differ per item.
        for (var i = 0; i < 30; i++)
        {
            var rng = new SeededRng((ulong)i);
            int w = 40 + i % 7 * 5, h = 30 + i % 5 * 6;
            using var bmp = TestFiles.Bitmap(w, h, (x, y) => new SKColor((byte)(x * 5 + rng.NextInt(20)), (byte)(y * 7), (byte)(i * 8)));
            TestFiles.Encode(bmp, dir.File($"photos/class{i % 3}/img{i:D2}.{(i % 2 == 0 ? "png" : "jpg")}"),
                i % 2 == 0 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg, 90);
        }
    }

    public void Dispose() => dir.Dispose();

    private static List<(float[] Images, float[] Targets, int[] Indices)> Run(DataLoader loader, int epoch)
    {
        var result = new List<(float[], float[], int[])>();
        foreach (var batch in loader.Epoch(epoch))
        {
            using (batch)
            {
                var t = batch.Targets.dtype == TorchSharp.torch.ScalarType.Int64
                    ? batch.Targets.data<long>().Select(v => (float)v).ToArray()
                    : batch.Targets.data<float>().ToArray();
                result.Add((batch.Inputs.data<float>().ToArray(), t, batch.Indices));
            }
        }
        return result;
    }

    private DataLoader Loader(int threads, long seed, MixupCutmix? mixup = null, int batchSize = 8)
    {
        var ds = new ImageFolderDataset(dir.File("photos"));
        var pipeline = ImagePipeline.Train(DataConfig.ImageNet().WithSize(32), AugmentConfig.Strong with { Reprob = 0.5 });
        return new DataLoader(ds, pipeline, new LoaderOptions { BatchSize = batchSize, Shuffle = true, Threads = threads, Seed = seed, Prefetch = 2 }, mixup);
    }

    [Fact]
    public void Same_seed_gives_identical_batches_with_one_or_four_threads()
    {
        var mixup = new MixupCutmix(AugmentConfig.Strong, 3);
        var one = Run(Loader(1, 123, mixup), epoch: 2);
        var four = Run(Loader(4, 123, mixup), epoch: 2);
        Assert.Equal(4, one.Count); // 30 items, batches of 8
        Assert.Equal(one.Count, four.Count);
        for (var b = 0; b < one.Count; b++)
        {
            Assert.Equal(one[b].Indices, four[b].Indices);
            Assert.Equal(one[b].Images, four[b].Images);
            Assert.Equal(one[b].Targets, four[b].Targets);
        }
        var other = Run(Loader(2, 124, mixup), epoch: 2);
        Assert.NotEqual(one[0].Images, other[0].Images);
    }

    [Fact]
    public void Disposed_batches_leave_no_live_tensors_even_with_mixup()
    {
        var loader = Loader(2, 9, new MixupCutmix(AugmentConfig.Strong, 3));
        var stats = TorchSharp.DisposeScopeManager.Statistics;
        var before = stats.ThreadTotalLiveCount;
        var created = stats.CreatedOutsideScopeCount + stats.CreatedInScopeCount;
        foreach (var batch in loader.Epoch(0))
            batch.Dispose();
        Assert.True(stats.CreatedOutsideScopeCount + stats.CreatedInScopeCount > created, "the statistics did not see the batches");
        Assert.Equal(before, stats.ThreadTotalLiveCount);
    }

    [Fact]
    public void Epochs_shuffle_differently_and_visit_every_item_once()
    {
        var loader = Loader(2, 5);
        var e0 = Run(loader, 0).SelectMany(b => b.Indices).ToArray();
        var e1 = Run(loader, 1).SelectMany(b => b.Indices).ToArray();
        Assert.Equal(Enumerable.Range(0, 30), e0.Order());
        Assert.Equal(Enumerable.Range(0, 30), e1.Order());
        Assert.NotEqual(e0, e1);
    }

    [Fact]
    public void Batches_have_the_documented_shapes_and_types()
    {
        var loader = Loader(2, 1);
        using var batch = loader.Epoch(0).First();
        Assert.Equal(new long[] { 8, 3, 32, 32 }, batch.Inputs.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, batch.Inputs.dtype);
        Assert.Equal(new long[] { 8 }, batch.Targets.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Int64, batch.Targets.dtype);

        using var mixed = Loader(2, 1, new MixupCutmix(AugmentConfig.Strong, 3)).Epoch(0).First();
        Assert.Equal(new long[] { 8, 3 }, mixed.Targets.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, mixed.Targets.dtype);
    }

    [Fact]
    public void Multi_label_targets_are_multi_hot_rows()
    {
        var lines = new List<string> { "path,labels" };
        for (var i = 0; i < 30; i++)
            lines.Add($"photos/class{i % 3}/img{i:D2}.{(i % 2 == 0 ? "png" : "jpg")},{(i % 2 == 0 ? "a|b" : "c")}");
        File.WriteAllLines(dir.File("m.csv"), lines);
        var ds = ManifestDataset.Open(dir.File("m.csv"));
        var loader = new DataLoader(ds, ImagePipeline.Eval(DataConfig.ImageNet().WithSize(16)), new LoaderOptions { BatchSize = 4, Threads = 2 });
        using var batch = loader.Epoch(0).First();
        Assert.Equal(new long[] { 4, 3 }, batch.Targets.shape);
        Assert.Equal([1f, 1f, 0f, 0f, 0f, 1f], batch.Targets.data<float>().ToArray().Take(6));
    }

    [Fact]
    public void Bad_items_are_skipped_recorded_and_the_run_goes_on()
    {
        File.WriteAllText(dir.File("photos/class1/broken.jpg"), "this is not a jpeg");
        var good = File.ReadAllBytes(dir.File("photos/class0/img00.png"));
        File.WriteAllBytes(dir.File("photos/class2/cut.png"), good[..(good.Length / 2)]);
        var loader = Loader(2, 3);
        var batches = Run(loader, 0);
        Assert.Equal(30, batches.Sum(b => b.Indices.Length));
        Assert.Equal(2, loader.Skipped.Count);
        Assert.Contains(loader.Skipped, s => s.Name.EndsWith("broken.jpg", StringComparison.Ordinal) && s.Reason.Length > 0);
        Assert.Contains(loader.Skipped, s => s.Name.EndsWith("cut.png", StringComparison.Ordinal) && s.Reason.Contains("truncated", StringComparison.OrdinalIgnoreCase));
        // Batch tensors hold only the kept rows.
        Assert.All(batches, b => Assert.Equal(b.Indices.Length * 3 * 32 * 32, b.Images.Length));
    }

    [Fact]
    public void Cancellation_stops_the_loader_cleanly()
    {
        var loader = Loader(2, 1, batchSize: 2);
        using var cts = new CancellationTokenSource();
        var seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var batch in loader.Epoch(0, cts.Token))
            {
                batch.Dispose();
                if (++seen == 2)
                    cts.Cancel();
            }
        });
        Assert.Equal(2, seen);
        // Leaving an epoch early (break) also ends its workers, and the loader is reusable.
        foreach (var batch in loader.Epoch(1))
        {
            batch.Dispose();
            break;
        }
        Assert.Equal(15, Run(loader, 1).Count);
    }

    [Fact]
    public void Idx_data_flows_through_the_eval_pipeline_as_one_channel_batches()
    {
        var images = Enumerable.Range(0, 10).Select(i => Enumerable.Repeat((byte)(i * 20), 28 * 28).ToArray()).ToArray();
        SourceTests.WriteIdx(dir.File("i.idx"), dir.File("l.idx"), images, [.. Enumerable.Range(0, 10).Select(i => (byte)i)], 28, 28, gzip: true);
        var ds = new IdxDataset(dir.File("i.idx"), dir.File("l.idx"), IdxDataset.FashionMnistClasses);
        var cfg = DataConfig.FashionMnist();
        var loader = new DataLoader(ds, ImagePipeline.Eval(cfg), new LoaderOptions { BatchSize = 4, Threads = 3 });
        var batches = Run(loader, 0);
        Assert.Equal([4, 4, 2], batches.Select(b => b.Indices.Length));
        // Item 3 is the constant 60/255, normalised with the Fashion-MNIST mean and std.
        Assert.Equal((60 / 255f - cfg.Mean[0]) / cfg.Std[0], batches[0].Images[3 * 784 + 100], 1e-5f);
        Assert.Equal([0f, 1f, 2f, 3f], batches[0].Targets);
    }
}
