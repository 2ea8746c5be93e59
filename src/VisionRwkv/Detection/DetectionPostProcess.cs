using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Detection;

/// <summary>Settings of a dense detector's post-processing (defaults as FCOS/RetinaNet in torchvision and mmdet).</summary>
public sealed record PostProcessOptions
{
    /// <summary>Candidates scoring at or below this are dropped before NMS.</summary>
    public double ScoreThreshold { get; init; } = 0.05;

    /// <summary>NMS drops a box whose IoU with a kept, higher-scoring box of the same class is above this.</summary>
    public double NmsIouThreshold { get; init; } = 0.6;

    /// <summary>At most this many (location, class) candidates, the highest-scoring ones, go into NMS.</summary>
    public int MaxCandidates { get; init; } = 1000;

    /// <summary>Detections kept per image after NMS (COCO evaluates at most 100).</summary>
    public int MaxDetections { get; init; } = 100;
}

/// <summary>One image's detections, highest score first: boxes [M,4] xyxy, scores [M], labels [M] (int64, 0-based class).</summary>
public sealed class Detections(Tensor boxes, Tensor scores, Tensor labels) : IDisposable
{
    public Tensor Boxes { get; } = boxes;

    public Tensor Scores { get; } = scores;

    public Tensor Labels { get; } = labels;

    public int Count => (int)Scores.shape[0];

    public void Dispose()
    {
        Boxes.Dispose();
        Scores.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Post-processing of a dense detector for one image: score threshold, top-k candidates, class-aware NMS, max
/// detections. NMS is TorchSharp's <c>torchvision.ops.nms</c>; the class-aware form is torchvision's coordinate trick
/// (TorchVision 0.107 has no <c>batched_nms</c>): each class's boxes are moved by their own offset so that boxes of
/// different classes never overlap, and one NMS call then acts per class.
/// </summary>
public static class DetectionPostProcess
{
    /// <summary>
    /// boxes: [N,4] xyxy (one per location), scores: [N,K] per-class probabilities (after the sigmoid) -> detections
    /// sorted by descending score. Each (location, class) pair above the threshold is its own candidate, so one location
    /// may yield boxes of several classes, as in torchvision's FCOS/RetinaNet.
    /// </summary>
    public static Detections Apply(Tensor boxes, Tensor scores, PostProcessOptions options)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(options);
        if (boxes.ndim != 2 || boxes.shape[1] != 4 || scores.ndim != 2 || scores.shape[0] != boxes.shape[0])
            throw new ArgumentException($"Expected boxes [N,4] and scores [N,K], got [{string.Join(",", boxes.shape)}] and [{string.Join(",", scores.shape)}].");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var k = scores.shape[1];
        var flat = scores.flatten(); // [N*K], index = n*K + k
        var candidates = (flat > options.ScoreThreshold).nonzero().flatten(); // [C]
        var candidateScores = flat.index_select(0, candidates);
        if (candidates.shape[0] > options.MaxCandidates)
        {
            var (top, order) = candidateScores.topk(options.MaxCandidates); // sorted, descending
            candidates = candidates.index_select(0, order);
            candidateScores = top;
        }
        var location = candidates.div(k, rounding_mode: RoundingMode.floor);
        var labels = candidates.remainder(k);
        var candidateBoxes = boxes.index_select(0, location); // [C,4]
        var keep = BatchedNms(candidateBoxes, candidateScores, labels, options.NmsIouThreshold);
        if (keep.shape[0] > options.MaxDetections)
            keep = keep.slice(0, 0, options.MaxDetections, 1);
        var result = new Detections(candidateBoxes.index_select(0, keep), candidateScores.index_select(0, keep), labels.index_select(0, keep));
        result.Boxes.MoveToOuterDisposeScope();
        result.Scores.MoveToOuterDisposeScope();
        result.Labels.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Class-aware NMS: boxes [N,4] xyxy, scores [N], labels [N] (int64) -> indices kept, by descending score. Boxes of
    /// different labels never suppress each other. The offset between classes is (max - min + 1) of all coordinates,
    /// not torchvision's (max + 1), so that negative coordinates cannot make two classes' boxes overlap.
    /// </summary>
    public static Tensor BatchedNms(Tensor boxes, Tensor scores, Tensor labels, double iouThreshold)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        if (boxes.shape[0] == 0)
            return empty(0, dtype: ScalarType.Int64, device: boxes.device);
        using var scope = NewDisposeScope();
        var span = boxes.max() - boxes.min() + 1;
        var offsets = labels.to_type(boxes.dtype) * span; // [N]
        var shifted = boxes + offsets.unsqueeze(1); // [N,4]
        return torchvision.ops.nms(shifted, scores, iouThreshold).MoveToOuterDisposeScope();
    }
}
