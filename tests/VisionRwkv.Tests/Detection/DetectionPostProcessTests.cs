using VisionRwkv.Datasets;
using VisionRwkv.Detection;
using VisionRwkv.Common;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Detection;

public sealed class DetectionPostProcessTests
{
    /// <summary>
    /// The obviously correct version: per class, walk candidates by descending score and keep one unless a kept box of
    /// the same class overlaps it by IoU &gt; threshold; then all classes together by descending score, cut to max.
    /// </summary>
    private static List<(int Location, int Label, float Score)> BruteForce(float[,] boxes, float[,] scores, PostProcessOptions o)
    {
        var cands = new List<(int N, int K, float S)>();
        for (var n = 0; n < scores.GetLength(0); n++)
        {
            for (var k = 0; k < scores.GetLength(1); k++)
            {
                if (scores[n, k] > o.ScoreThreshold)
                    cands.Add((n, k, scores[n, k]));
            }
        }
        cands = [.. cands.OrderByDescending(c => c.S).Take(o.MaxCandidates)];
        double Iou(int a, int b)
        {
            var w = Math.Min(boxes[a, 2], boxes[b, 2]) - Math.Max(boxes[a, 0], boxes[b, 0]);
            var h = Math.Min(boxes[a, 3], boxes[b, 3]) - Math.Max(boxes[a, 1], boxes[b, 1]);
            if (w <= 0 || h <= 0)
                return 0;
            double areaA = (boxes[a, 2] - boxes[a, 0]) * (boxes[a, 3] - boxes[a, 1]), areaB = (boxes[b, 2] - boxes[b, 0]) * (boxes[b, 3] - boxes[b, 1]);
            return w * h / (areaA + areaB - w * h);
        }
        var kept = new List<(int N, int K, float S)>();
        foreach (var c in cands)
        {
            if (!kept.Any(q => q.K == c.K && Iou(q.N, c.N) > o.NmsIouThreshold))
                kept.Add(c);
        }
        return [.. kept.OrderByDescending(c => c.S).Take(o.MaxDetections).Select(c => (c.N, c.K, c.S))];
    }

    [Theory]
    [InlineData(1, 0.05, 0.5, 1000, 100)]
    [InlineData(2, 0.3, 0.6, 1000, 100)]
    [InlineData(3, 0.05, 0.5, 40, 100)]
    [InlineData(4, 0.05, 0.5, 1000, 7)]
    [InlineData(5, 0.0, 0.3, 1000, 100)]
    public void Post_processing_matches_a_brute_force_per_class_nms(int seed, double scoreThr, double iouThr, int maxCandidates, int maxDets)
    {
        // Clustered boxes (so NMS has work to do) with negative coordinates in some, and distinct random scores.
        var rng = new SeededRng((ulong)seed);
        int n = 300, k = 4;
        var boxes = new float[n, 4];
        var scores = new float[n, k];
        for (var i = 0; i < n; i++)
        {
            double cx = rng.NextInt(6) * 40 - 20 + rng.Uniform(-6, 6), cy = rng.NextInt(4) * 40 + rng.Uniform(-6, 6);
            double w = rng.Uniform(10, 40), h = rng.Uniform(10, 40);
            boxes[i, 0] = (float)(cx - w / 2);
            boxes[i, 1] = (float)(cy - h / 2);
            boxes[i, 2] = (float)(cx + w / 2);
            boxes[i, 3] = (float)(cy + h / 2);
            for (var c = 0; c < k; c++)
                scores[i, c] = (float)Math.Pow(rng.NextDouble(), 3);
        }
        var options = new PostProcessOptions { ScoreThreshold = scoreThr, NmsIouThreshold = iouThr, MaxCandidates = maxCandidates, MaxDetections = maxDets };
        var expected = BruteForce(boxes, scores, options);

        using var scope = NewDisposeScope();
        var boxesT = tensor(boxes.Cast<float>().ToArray(), [n, 4]);
        using var dets = DetectionPostProcess.Apply(boxesT, tensor(scores.Cast<float>().ToArray(), [n, k]), options);
        var gotScores = dets.Scores.data<float>().ToArray();
        var gotLabels = dets.Labels.data<long>().ToArray();
        var gotBoxes = dets.Boxes.data<float>().ToArray();
        Assert.Equal(expected.Count, dets.Count);
        Assert.True(expected.Count > 5, "the case should keep several detections");
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Score, gotScores[i]);
            Assert.Equal(expected[i].Label, gotLabels[i]);
            for (var j = 0; j < 4; j++)
                Assert.Equal(boxes[expected[i].Location, j], gotBoxes[i * 4 + j]);
        }
    }

    [Fact]
    public void Boxes_of_different_classes_never_suppress_each_other()
    {
        // Two identical boxes, classes 0 and 1: both survive; the same two boxes in one class: one survives.
        using var scope = NewDisposeScope();
        var boxes = tensor(new float[] { -50, -50, -10, -10, -50, -50, -10, -10 }, [2, 4]);
        var scores = tensor(new float[] { 0.9f, 0.8f });
        Assert.Equal(2, DetectionPostProcess.BatchedNms(boxes, scores, tensor(new long[] { 0, 1 }), 0.5).shape[0]);
        Assert.Equal(1, DetectionPostProcess.BatchedNms(boxes, scores, tensor(new long[] { 1, 1 }), 0.5).shape[0]);
    }

    [Fact]
    public void Nothing_above_the_threshold_gives_empty_detections()
    {
        using var scope = NewDisposeScope();
        using var dets = DetectionPostProcess.Apply(rand(10, 4), full(10, 3, 0.01f), new PostProcessOptions());
        Assert.Equal(0, dets.Count);
        Assert.Equal([0L, 4L], dets.Boxes.shape);
    }
}
