using System.Diagnostics;
using SkiaSharp;
using VisionRwkv.Datasets.Detection;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using Xunit.Abstractions;
using VisionRwkv.Datasets;

namespace VisionRwkv.Datasets.Tests.Detection;

/// <summary>Detection sources (COCO folder, YOLO layout), the loader and the synthetic set.</summary>
public sealed class DetectionDataTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private const string NoFashionMnist = "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist or ~/.cache/rwkv/fashion-mnist (apt install dataset-fashion-mnist).";

    /// <summary>A small COCO folder: 12 PNGs of varying sizes with 0-3 boxes each, drawn as bright blocks.</summary>
    private CocoDetectionDataset SmallCoco()
    {
        var images = new List<CocoImage>();
        var anns = new List<CocoAnnotation>();
        for (var i = 0; i < 12; i++)
        {
            int w = 40 + i * 3, h = 30 + i % 4 * 7;
            var boxes = Enumerable.Range(0, i % 4).Select(k => new CocoBox(3 + k * 9, 2 + k * 5, 8, 6 + k)).ToList();
            using var bmp = TestFiles.Bitmap(w, h, (x, y) => boxes.Any(b => x >= b.X && x < b.X + b.W && y >= b.Y && y < b.Y + b.H) ? SKColors.White : new SKColor(20, 20, 20));
            TestFiles.Encode(bmp, dir.File($"coco/img{i:D2}.png"), SKEncodedImageFormat.Png);
            images.Add(new CocoImage(100 + i, $"img{i:D2}.png", w, h));
            foreach (var b in boxes)
                anns.Add(new CocoAnnotation(anns.Count + 1, 100 + i, anns.Count % 2 == 0 ? 5 : 9, b, b.W * b.H, IsCrowd: i == 7));
        }
        var coco = new CocoDataset(images, [new CocoCategory(9, "nine"), new CocoCategory(5, "five")], anns);
        CocoJson.Write(dir.File("coco/gt.json"), coco);
        return CocoDetectionDataset.Open(dir.File("coco/gt.json"), Path.Combine(dir.Path, "coco"));
    }

    [Fact]
    public void Coco_folder_labels_follow_sorted_category_ids_and_keep_crowd_flags()
    {
        var ds = SmallCoco();
        Assert.Equal(["five", "nine"], ds.ClassNames);
        Assert.Equal(5, ds.CategoryIdOf(0));
        Assert.Equal(9, ds.CategoryIdOf(1));
        Assert.Equal(103, ds.ImageIdOf(3));
        var objs = ds.ObjectsOf(3);
        Assert.Equal(3, objs.Count);
        Assert.Equal(new BoundingBox(3, 2, 11, 8), objs[0].Box);
        Assert.All(ds.ObjectsOf(7), o => Assert.True(o.IsCrowd));
        var img = ds.Load(3, Imaging.DecodeOptions.Default);
        Assert.Equal((51, 49), (img.Height, img.Width)); // image 3: 40 + 3·3 wide, 30 + 3·7 high
    }

    [Fact]
    public void A_coco_image_whose_size_disagrees_with_the_json_is_reported()
    {
        var ds = SmallCoco();
        var bad = ds.Coco with { Images = [.. ds.Coco.Images.Select(i => i.Id == 101 ? i with { Width = 999 } : i)] };
        var e = Assert.Throws<Imaging.ImageDecodeException>(() => new CocoDetectionDataset(bad, ds.ImagesDirectory).Load(1, Imaging.DecodeOptions.Default));
        Assert.Contains("img01.png", e.Message);
        Assert.Contains("999", e.Message);
    }

    [Fact]
    public void Yolo_layout_round_trips_boxes_and_converts_to_coco()
    {
        var coco = SmallCoco();
        var root = Path.Combine(dir.Path, "yolo");
        YoloDetectionDataset.Write(coco, root, "train");
        Assert.Equal("five\nnine\n", File.ReadAllText(Path.Combine(root, "classes.txt")));
        var yolo = YoloDetectionDataset.Open(root, "train");
        Assert.Equal(12, yolo.Count);
        Assert.Equal(coco.ClassNames, yolo.ClassNames);
        for (var i = 0; i < yolo.Count; i++)
        {
            // Crowd regions are not expressible in YOLO txt.
            var expected = coco.ObjectsOf(i).Where(o => !o.IsCrowd).ToArray();
            var got = yolo.ObjectsOf(i);
            Assert.Equal(expected.Length, got.Count);
            for (var k = 0; k < got.Count; k++)
            {
                Assert.Equal(expected[k].Label, got[k].Label);
                Assert.Equal(expected[k].Box.X1, got[k].Box.X1, 9);
                Assert.Equal(expected[k].Box.Y2, got[k].Box.Y2, 9);
            }
        }
        var asCoco = yolo.ToCoco();
        Assert.Equal(12, asCoco.Images.Count);
        Assert.Equal([1L, 2L], asCoco.Categories.Select(c => c.Id));
        Assert.Equal(coco.Coco.Annotations.Count(a => !a.IsCrowd), asCoco.Annotations.Count);
        // A second write into the same place refuses to overwrite labels.
        Assert.Throws<IOException>(() => YoloDetectionDataset.Write(coco, root, "train"));
    }

    [Theory]
    [InlineData("0 0.5 0.5 0.2", "expected 'class cx cy w h'")]
    [InlineData("x 0.5 0.5 0.2 0.2", "class 'x' is not a non-negative integer")]
    [InlineData("0 0.5 abc 0.2 0.2", "'abc' is not a number")]
    [InlineData("0 0.5 0.5 0 0.2", "width and height must be positive")]
    [InlineData("5 0.5 0.5 0.2 0.2", "class 5 is beyond the 2 class names")]
    public void Bad_yolo_label_lines_name_the_file_and_line(string line, string problem)
    {
        var root = Path.Combine(dir.Path, "y");
        using (var bmp = TestFiles.Bitmap(10, 10, (_, _) => SKColors.Gray))
            TestFiles.Encode(bmp, dir.File("y/images/val/a.png"), SKEncodedImageFormat.Png);
        File.WriteAllText(dir.File("y/labels/val/a.txt"), "1 0.5 0.5 0.1 0.1\n" + line + "\n");
        File.WriteAllText(dir.File("y/classes.txt"), "a\nb\n");
        var e = Assert.Throws<InvalidDataException>(() => YoloDetectionDataset.Open(root, "val"));
        Assert.Contains("a.txt' line 2", e.Message);
        Assert.Contains(problem, e.Message);
    }

    private static List<(int[] Indices, float[] Images, float[][] Boxes, long[][] Labels)> Run(DetectionLoader loader, int epoch)
    {
        var result = new List<(int[], float[], float[][], long[][])>();
        foreach (var batch in loader.Epoch(epoch))
        {
            using (batch)
            {
                result.Add((batch.Indices, batch.Images.data<float>().ToArray(),
                    [.. batch.Targets.Select(t => t.Count == 0 ? [] : t.Boxes.data<float>().ToArray())], [.. batch.Targets.Select(t => t.Count == 0 ? [] : t.Labels.data<long>().ToArray())]));
            }
        }
        return result;
    }

    private static DetectionLoader Loader(IDetectionDataset ds, int threads, long seed) =>
        new(ds, DetectionPipeline.Train(DataConfig.ImageNet().WithSize(48), DetectionAugmentConfig.Default),
            new LoaderOptions { BatchSize = 5, Shuffle = true, Threads = threads, Seed = seed, Prefetch = 2 });

    [Fact]
    public void Loader_batches_are_identical_with_one_or_three_threads_and_match_single_samples()
    {
        var ds = SmallCoco();
        var one = Run(Loader(ds, 1, 42), epoch: 3);
        var three = Run(Loader(ds, 3, 42), epoch: 3);
        Assert.Equal(3, one.Count); // 12 items in batches of 5
        for (var b = 0; b < one.Count; b++)
        {
            Assert.Equal(one[b].Indices, three[b].Indices);
            Assert.Equal(one[b].Images, three[b].Images);
            Assert.Equal(one[b].Boxes, three[b].Boxes);
            Assert.Equal(one[b].Labels, three[b].Labels);
        }
        // Row i of a batch is exactly Sample(index, epoch).
        var loader = Loader(ds, 2, 42);
        var s = loader.Sample(one[1].Indices[2], 3);
        Assert.Equal(s.Image.Data, one[1].Images.AsSpan(2 * 3 * 48 * 48, 3 * 48 * 48).ToArray());
        Assert.Equal(s.Objects.Count * 4, one[1].Boxes[2].Length);
        // Another epoch shuffles and augments differently.
        Assert.NotEqual(one[0].Indices, Run(Loader(ds, 1, 42), epoch: 4)[0].Indices);
    }

    [Fact]
    public void Loader_targets_carry_the_map_back_to_original_coordinates_and_the_image_id()
    {
        var ds = SmallCoco();
        var loader = new DetectionLoader(ds, DetectionPipeline.Eval(DataConfig.ImageNet().WithSize(64)), new LoaderOptions { BatchSize = 4, Threads = 2 });
        using var batch = loader.Epoch(0).First();
        Assert.Equal([4L, 3L, 64L, 64L], batch.Images.shape);
        var t = batch.Targets[3];
        Assert.Equal(103, t.ImageId);
        Assert.Equal([3L, 4L], t.Boxes.shape);
        var b = t.Boxes.data<float>().ToArray();
        var back = t.Map.Invert(new BoundingBox(b[0], b[1], b[2], b[3]));
        Assert.Equal(3, back.X1, 4);
        Assert.Equal(8, back.Y2, 4);
        Assert.Equal((49, 51), (t.OriginalWidth, t.OriginalHeight));
    }

    [Fact]
    public void A_corrupt_image_is_skipped_and_recorded_and_the_epoch_goes_on()
    {
        var ds = SmallCoco();
        File.WriteAllBytes(Path.Combine(ds.ImagesDirectory, "img04.png"), [1, 2, 3, 4]);
        var loader = Loader(ds, 2, 1);
        var total = Run(loader, 0).Sum(b => b.Indices.Length);
        Assert.Equal(11, total);
        var skip = Assert.Single(loader.Skipped);
        Assert.Equal(4, skip.Index);
        Assert.Contains("img04.png", skip.Name);
    }

    [Fact]
    public void Disposed_batches_leave_no_live_tensors()
    {
        var loader = Loader(SmallCoco(), 2, 5);
        var stats = TorchSharp.DisposeScopeManager.Statistics;
        var before = stats.ThreadTotalLiveCount;
        foreach (var batch in loader.Epoch(0))
            batch.Dispose();
        Assert.Equal(before, stats.ThreadTotalLiveCount);
    }

    [SkippableFact]
    public void Synthetic_set_is_deterministic_across_thread_counts_and_reused_when_settings_match()
    {
        Skip.If(IdxDataset.FindFashionMnist() is null, NoFashionMnist);
        var options = new SyntheticDetectionOptions { ImageSize = 96, TrainImages = 24, ValImages = 6, TestImages = 6, ObjectSize = (16, 48), Seed = 3 };
        var a = SyntheticDetectionSet.Generate(Path.Combine(dir.Path, "a"), options, threads: 1);
        var b = SyntheticDetectionSet.Generate(Path.Combine(dir.Path, "b"), options, threads: 2);
        foreach (var split in SyntheticDetectionSet.Splits)
        {
            Assert.Equal(File.ReadAllBytes(a.AnnotationsPath(split)), File.ReadAllBytes(b.AnnotationsPath(split)));
            foreach (var f in Directory.GetFiles(a.ImagesDirectory(split)))
                Assert.Equal(File.ReadAllBytes(f), File.ReadAllBytes(Path.Combine(b.ImagesDirectory(split), Path.GetFileName(f))));
        }
        // Same settings: reused, files untouched. Other settings: refused, nothing overwritten.
        var stamp = File.GetLastWriteTimeUtc(a.AnnotationsPath("train"));
        SyntheticDetectionSet.Generate(a.Root, options);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(a.AnnotationsPath("train")));
        var e = Assert.Throws<IOException>(() => SyntheticDetectionSet.Generate(a.Root, options with { Seed = 4 }));
        Assert.Contains("other settings", e.Message);
        Directory.CreateDirectory(dir.File("mine/x"));
        Assert.Throws<IOException>(() => SyntheticDetectionSet.Generate(Path.Combine(dir.Path, "mine"), options));
        // A different seed makes different images.
        var c = SyntheticDetectionSet.Generate(Path.Combine(dir.Path, "c"), options with { Seed = 4 });
        Assert.NotEqual(File.ReadAllBytes(a.AnnotationsPath("train")), File.ReadAllBytes(c.AnnotationsPath("train")));
    }

    [SkippableFact]
    public void Synthetic_boxes_hold_the_pasted_items_within_the_counts_and_sizes_asked_for()
    {
        Skip.If(IdxDataset.FindFashionMnist() is null, NoFashionMnist);
        var options = new SyntheticDetectionOptions { ImageSize = 128, TrainImages = 40, ValImages = 10, TestImages = 10, Seed = 1 };
        var set = SyntheticDetectionSet.Generate(Path.Combine(dir.Path, "s"), options);
        var train = set.Open("train");
        Assert.Equal(40, train.Count);
        Assert.Equal(IdxDataset.FashionMnistClasses, train.ClassNames);
        var counts = new List<int>();
        for (var i = 0; i < train.Count; i++)
        {
            var objs = train.ObjectsOf(i);
            counts.Add(objs.Count);
            var img = train.Load(i, Imaging.DecodeOptions.Default);
            Assert.Equal((1, 128, 128), (img.Channels, img.Height, img.Width));
            foreach (var o in objs)
            {
                Assert.InRange(Math.Max(o.Box.Width, o.Box.Height), 4, options.ObjectSize.Max);
                Assert.True(o.Box.X1 >= 0 && o.Box.Y1 >= 0 && o.Box.X2 <= 128 && o.Box.Y2 <= 128);
                // The pasted item (intensity >= 0.65 of a Fashion-MNIST item, whose peak is near 1) is inside its box.
                var peak = 0f;
                for (var y = (int)o.Box.Y1; y < (int)o.Box.Y2; y++)
                {
                    for (var x = (int)o.Box.X1; x < (int)o.Box.X2; x++)
                        peak = Math.Max(peak, img[0, y, x]);
                }
                Assert.True(peak >= 0.5f, $"image {i}: box {o.Box} holds no bright pixel (peak {peak})");
            }
            for (var p = 0; p < objs.Count; p++)
            {
                for (var q = p + 1; q < objs.Count; q++)
                {
                    Assert.True(objs[p].Box.IoU(objs[q].Box) <= options.MaxOverlapIoU + 1e-12);
                    Assert.True(SyntheticDetectionSet.CoveredFraction(objs[p].Box, objs[q].Box) <= options.MaxCoveredFraction + 1e-12);
                }
            }
        }
        Assert.InRange(counts.Min(), 1, 8);
        Assert.InRange(counts.Max(), 1, 8);
        Assert.True(counts.Distinct().Count() >= 4, "object counts should vary");
        // Val and test use other Fashion-MNIST items than train.
        Assert.Equal(10, set.Open("test").Count);
    }

    [SkippableFact]
    [Trait("Category", "Slow")]
    public void Three_thousand_synthetic_images_take_well_under_a_minute()
    {
        Skip.If(IdxDataset.FindFashionMnist() is null, NoFashionMnist);
        var sw = Stopwatch.StartNew();
        var set = SyntheticDetectionSet.Generate(Path.Combine(dir.Path, "big"), new SyntheticDetectionOptions { TrainImages = 2400, ValImages = 200, TestImages = 400 });
        sw.Stop();
        var anns = SyntheticDetectionSet.Splits.Sum(s => CocoJson.Read(set.AnnotationsPath(s)).Annotations.Count);
        output.WriteLine($"3000 images of 128x128, {anns} objects: {sw.Elapsed.TotalSeconds:F1} s on {Environment.ProcessorCount} cores");
        Assert.True(sw.Elapsed.TotalSeconds < 60, $"took {sw.Elapsed.TotalSeconds:F1} s");
    }
}
