using VisionRwkv.Detection.Models;
using VisionRwkv.Models;
using VisionRwkv.Datasets;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Detection.Models;

public sealed class FcosTests
{
    private static DetectorConfig Tiny(int classes = 3, double[]? scales = null) => new()
    {
        Backbone = VrwkvConfig.Mini28 with { ImgHeight = 64, ImgWidth = 64, PatchSize = 8, EmbedDims = 32, Depth = 2, NumClasses = 0, Data = DataConfig.FashionMnist() },
        NumClasses = classes,
        PyramidScales = scales ?? [2, 1, 0.5],
        PyramidChannels = 16,
        HeadConvs = 1,
    };

    /// <summary>
    /// FCOS assignment written straight from the paper, one location and one box at a time: positive when inside the box,
    /// within radius·stride of its centre (clipped to the box), and max(l,t,r,b) within the level's range; the box of
    /// least area wins (the first on ties); background otherwise, or ignored inside a crowd region.
    /// </summary>
    private static (long[] Labels, float[,] Ltrb) Reference(float[,] points, float[] strides, float[,] ranges, float[,] boxes, long[] labels, bool[] crowd, double radius)
    {
        int a = points.GetLength(0), m = boxes.GetLength(0);
        var outLabels = new long[a];
        var outLtrb = new float[a, 4];
        for (var i = 0; i < a; i++)
        {
            float px = points[i, 0], py = points[i, 1];
            double bestArea = double.PositiveInfinity;
            int best = -1;
            for (var j = 0; j < m; j++)
            {
                if (crowd[j]) continue;
                float x0 = boxes[j, 0], y0 = boxes[j, 1], x1 = boxes[j, 2], y1 = boxes[j, 3];
                float l = px - x0, t = py - y0, r = x1 - px, b = y1 - py;
                if (Math.Min(Math.Min(l, t), Math.Min(r, b)) <= 0) continue;
                if (radius > 0)
                {
                    float cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, rs = (float)(strides[i] * radius);
                    float cx0 = Math.Max(cx - rs, x0), cy0 = Math.Max(cy - rs, y0), cx1 = Math.Min(cx + rs, x1), cy1 = Math.Min(cy + rs, y1);
                    if (Math.Min(Math.Min(px - cx0, py - cy0), Math.Min(cx1 - px, cy1 - py)) <= 0) continue;
                }
                float mx = Math.Max(Math.Max(l, t), Math.Max(r, b));
                if (mx < ranges[i, 0] || mx > ranges[i, 1]) continue;
                double area = (x1 - x0) * (y1 - y0);
                if (area < bestArea)
                {
                    bestArea = area;
                    best = j;
                }
            }
            if (best >= 0)
            {
                outLabels[i] = labels[best];
                outLtrb[i, 0] = px - boxes[best, 0];
                outLtrb[i, 1] = py - boxes[best, 1];
                outLtrb[i, 2] = boxes[best, 2] - px;
                outLtrb[i, 3] = boxes[best, 3] - py;
                continue;
            }
            outLabels[i] = FcosTargets.Background;
            for (var j = 0; j < m; j++)
            {
                if (crowd[j] && px > boxes[j, 0] && py > boxes[j, 1] && px < boxes[j, 2] && py < boxes[j, 3])
                    outLabels[i] = FcosTargets.Ignore;
            }
        }
        return (outLabels, outLtrb);
    }

    private static float[,] To2D(Tensor t)
    {
        var data = t.data<float>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var result = new float[rows, cols];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
                result[i, j] = data[i * cols + j];
        return result;
    }

    [Theory]
    [InlineData(0, 1.5)]
    [InlineData(1, 1.5)]
    [InlineData(2, 0)]
    [InlineData(3, 2.5)]
    public void Vectorised_assignment_equals_the_loop_from_the_paper_on_random_scenes(int seed, double radius)
    {
        using var scope = NewDisposeScope();
        using var model = new VrwkvDetector(Tiny());
        using var points = model.Points(64, 64);
        var rng = new Random(seed);
        int m = 1 + rng.Next(8);
        var boxes = new float[m, 4];
        var labels = new long[m];
        var crowd = new bool[m];
        for (var j = 0; j < m; j++)
        {
            float w = 4 + (float)rng.NextDouble() * 50, h = 4 + (float)rng.NextDouble() * 50;
            float x = (float)rng.NextDouble() * (64 - w), y = (float)rng.NextDouble() * (64 - h);
            // Some boxes share a size so that the first-on-ties rule is exercised.
            if (j > 0 && rng.Next(4) == 0) (w, h) = (boxes[0, 2] - boxes[0, 0], boxes[0, 3] - boxes[0, 1]);
            boxes[j, 0] = x; boxes[j, 1] = y; boxes[j, 2] = x + w; boxes[j, 3] = y + h;
            labels[j] = rng.Next(3);
            crowd[j] = rng.Next(6) == 0;
        }
        var flat = new float[m * 4];
        Buffer.BlockCopy(boxes, 0, flat, 0, flat.Length * 4);
        var got = FcosTargets.Assign(points.Points, points.Strides, points.Ranges, tensor(flat, [m, 4]), tensor(labels), tensor(crowd), radius);
        var (expectedLabels, expectedLtrb) = Reference(To2D(points.Points), points.Strides.data<float>().ToArray(), To2D(points.Ranges), boxes, labels, crowd, radius);
        Assert.Equal(expectedLabels, got.Labels.data<long>().ToArray());
        var ltrb = To2D(got.Distances);
        for (var i = 0; i < expectedLabels.Length; i++)
            for (var c = 0; c < 4; c++)
                Assert.Equal(expectedLtrb[i, c], ltrb[i, c], 4);
        Assert.Contains(expectedLabels, l => l >= 0);
    }

    [Fact]
    public void A_location_at_the_centre_of_a_box_is_a_positive_on_the_level_whose_range_holds_the_box()
    {
        // Strides 4/8/16 at 64x64; FCOS's ranges 8·stride: [−1,32], [32,64], [64,∞). A 20x20 box centred at (30,30):
        // the location (30,30) of the stride-4 level (cell 7: (7+½)·4 = 30) has l=t=r=b=10 ≤ 32 → positive, label 2.
        using var scope = NewDisposeScope();
        using var model = new VrwkvDetector(Tiny());
        using var points = model.Points(64, 64);
        var t = FcosTargets.Assign(points.Points, points.Strides, points.Ranges, tensor(new float[] { 20, 20, 40, 40 }, [1, 4]), tensor(new long[] { 2 }), tensor(new[] { false }), 1.5);
        int index = 7 * 16 + 7;
        Assert.Equal(30f, points.Points[index, 0].item<float>());
        Assert.Equal(2L, t.Labels[index].item<long>());
        Assert.Equal([10f, 10f, 10f, 10f], t.Distances[index].data<float>().ToArray());
        // Centre sampling at radius 1.5·4 = 6 px: (30 ± 6) → the stride-4 cells whose centres are 26, 30, 34 on each axis = 9 positives there.
        var labels = t.Labels.data<long>().ToArray();
        Assert.Equal(9, labels.Take(256).Count(l => l == 2));
        Assert.DoesNotContain(labels.Skip(256), l => l >= 0);
    }

    [Fact]
    public void Centerness_is_one_at_the_centre_and_falls_towards_the_edges()
    {
        using var scope = NewDisposeScope();
        var c = FcosTargets.Centerness(tensor(new float[] { 10, 10, 10, 10, 2, 10, 18, 10, 5, 5, 15, 45 }, [3, 4])).data<float>().ToArray();
        Assert.Equal(1f, c[0], 6);
        Assert.Equal((float)Math.Sqrt(2.0 / 18), c[1], 6);
        Assert.Equal((float)Math.Sqrt(5.0 / 15 * (5.0 / 45)), c[2], 6);
    }

    [Fact]
    public void Every_parameter_of_a_fresh_detector_is_finite_and_group_norms_start_at_one_and_zero()
    {
        // TorchSharp once left a GroupNorm weight full of NaN: the detector sets them itself.
        for (var i = 0; i < 5; i++)
        {
            using var model = new VrwkvDetector(Tiny());
            foreach (var (name, p) in model.named_parameters())
            {
                Assert.True(p.isfinite().all().item<bool>(), $"{name} is not finite");
                if (name.StartsWith("neck.", StringComparison.Ordinal) && p.ndim == 1 && name.EndsWith(".weight", StringComparison.Ordinal))
                    Assert.True(p.eq(1).all().item<bool>(), $"{name} should start at 1");
            }
        }
    }

    [Fact]
    public void The_dense_output_has_one_row_per_location_of_every_level()
    {
        using var scope = NewDisposeScope();
        using var model = new VrwkvDetector(Tiny(classes: 5));
        using var points = model.Points(64, 64);
        var y = model.call(randn(2, 1, 64, 64));
        Assert.Equal(16 * 16 + 8 * 8 + 4 * 4, points.Count);
        Assert.Equal(new long[] { 2, points.Count, 5 + 5 }, y.shape);
        // Distances are ReLU·stride: never negative.
        Assert.True(y[.., .., 5..9].min().item<float>() >= 0);
    }

    [Fact]
    public void The_loss_is_finite_and_a_few_steps_on_one_batch_lower_it()
    {
        manual_seed(1);
        using var model = new VrwkvDetector(Tiny());
        using var points = model.Points(64, 64);
        var images = randn(2, 1, 64, 64);
        // Two images: two boxes, one crowd region; padding row with label −1.
        var targets = tensor(new float[]
        {
            8, 8, 30, 28, 0, 0,   34, 30, 60, 60, 2, 0,   0, 0, 0, 0, -1, 0,
            10, 12, 50, 52, 1, 0,  0, 0, 8, 8, 0, 1,      0, 0, 0, 0, -1, 0,
        }, [2, 3, 6]);
        using var optimizer = optim.AdamW(model.parameters(), 1e-3);
        double first = 0, last = 0;
        for (var step = 0; step < 15; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var terms = FcosLoss.Compute(model.call(images), targets, points, model.Config);
            var value = terms.Total.item<float>();
            Assert.True(float.IsFinite(value), $"loss {value} at step {step} (cls {terms.Classification.item<float>()}, box {terms.Box.item<float>()}, ctr {terms.Centerness.item<float>()})");
            if (step == 0) first = value;
            last = value;
            terms.Total.backward();
            optimizer.step();
        }
        Assert.True(last < first * 0.8, $"loss went from {first} to {last}");
    }
}

public sealed class DetectorInitFromTests
{
    [Fact]
    public void A_classifier_checkpoint_initialises_the_backbone_and_leaves_the_neck_and_head_alone()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var backbone = VrwkvConfig.Mini28;
        using var classifier = new VrwkvClassifier(backbone);
        var file = Path.Combine(Path.GetTempPath(), $"rwkv-cls-{Guid.NewGuid():N}.safetensors");
        try
        {
            VisionRwkv.Checkpoints.SafeTensors.Write(file, classifier.state_dict());
            // The detector sees 64x64 inputs: the 7x7 position grid must be resized to 16x16.
            using var detector = new VrwkvDetector(new DetectorConfig
            {
                Backbone = backbone with { ImgHeight = 64, ImgWidth = 64, NumClasses = 0 },
                NumClasses = 4, PyramidScales = [1, 0.5], PyramidChannels = 16, HeadConvs = 1,
            });
            var neckBefore = detector.state_dict()["neck.stages.0.1.weight"].clone();
            var report = VisionRwkv.Checkpoints.WeightLoader.Load(detector, file, VisionRwkv.Checkpoints.WeightLoadOptions.FineTune);
            var mine = detector.state_dict();
            var theirs = classifier.state_dict();
            foreach (var key in theirs.Keys.Where(k => k.StartsWith("backbone.", StringComparison.Ordinal) && k != "backbone.pos_embed"))
                Assert.True(mine[key].equal(theirs[key]).all().item<bool>(), $"{key} did not load");
            Assert.Equal(new long[] { 1, 256, 96 }, mine["backbone.pos_embed"].shape);
            Assert.Contains(report.Resized, r => r.Key == "backbone.pos_embed");
            Assert.Equal(["head.fc.bias", "head.fc.weight"], report.Unexpected.Order(StringComparer.Ordinal));
            Assert.Contains("bbox_head.conv_cls.weight", report.Reinitialised);
            Assert.True(mine["neck.stages.0.1.weight"].equal(neckBefore).all().item<bool>());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
