using VisionRwkv.Datasets.Detection;
using VisionRwkv.Detection.Evaluation;
using VisionRwkv.Detection.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Training;

/// <summary>What evaluating a detector on a split gave: COCO metrics, the results they were computed from, the ground truth.</summary>
/// <param name="Metrics">The 12 COCO numbers (pycocotools' order and names) and per-category AP.</param>
/// <param name="Results">Every detection, in original image pixels (the COCO results JSON).</param>
/// <param name="GroundTruth">The ground truth evaluated against.</param>
/// <param name="GroundTruthPath">The JSON file it came from, when it came from one.</param>
/// <param name="Loss">Mean training loss on the split (letterboxed inputs), NaN when not computed.</param>
/// <param name="Images">Images evaluated.</param>
/// <param name="InputHeight">Height of the letterboxed input the detector saw.</param>
/// <param name="InputWidth">Its width.</param>
public sealed record DetectionEvaluation(CocoMetrics Metrics, IReadOnlyList<CocoResult> Results, CocoDataset GroundTruth, string? GroundTruthPath, double Loss, int Images, int InputHeight, int InputWidth);

/// <summary>Runs a detector over a loader's images and scores the result as pycocotools would.</summary>
public static class DetectionEvaluator
{
    /// <summary>
    /// Every image of <paramref name="loader"/> (epoch 0: its deterministic evaluation order) through
    /// <paramref name="model"/> in eval mode, post-processed, mapped back to original pixels and scored with
    /// <see cref="CocoEvaluator"/> against the loader's dataset.
    /// </summary>
    public static DetectionEvaluation Evaluate(VrwkvDetector model, DetectionLoader loader, Device device, PostProcessOptions postProcess, bool withLoss = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loader);
        var results = new List<CocoResult>();
        double lossSum = 0;
        int images = 0;
        var evaluated = new HashSet<long>();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            var pipeline = loader.Pipeline;
            using var points = model.Points(pipeline.Height, pipeline.Width, device);
            foreach (var batch in loader.Epoch(0))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var outputs = model.call(batch.Images.to(device));                     // [B,A,K+5]
                    if (withLoss)
                    {
                        var packed = DetectionBatchSource.Pack(batch.Targets).to(device);
                        lossSum += FcosLoss.Compute(outputs, packed, points, model.Config).Total.item<float>() * batch.Size;
                    }
                    results.AddRange(Predict(outputs, points, batch.Targets, model.Config.NumClasses, pipeline.Height, pipeline.Width,
                        postProcess, loader.Dataset.CategoryIdOf));
                    images += batch.Size;
                    evaluated.UnionWith(batch.Targets.Select(t => t.ImageId));
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        var coco = loader.Dataset.ToCoco();
        // Only the images that were evaluated count (a skipped, unreadable image is not scored as all misses).
        if (evaluated.Count != coco.Images.Count)
            coco = coco with { Images = [.. coco.Images.Where(i => evaluated.Contains(i.Id))], Annotations = [.. coco.Annotations.Where(a => evaluated.Contains(a.ImageId))] };
        var metrics = CocoEvaluator.Evaluate(coco, results);
        string? path = loader.Dataset is CocoDetectionDataset c ? c.AnnotationsPath : null;
        return new DetectionEvaluation(metrics, results, coco, path, withLoss && images > 0 ? lossSum / images : double.NaN, images,
            loader.Pipeline.Height, loader.Pipeline.Width);
    }

    /// <summary>
    /// Dense outputs [B,A,K+5] of a batch → COCO results: FCOS scores, class-aware NMS, top detections, boxes mapped
    /// from input pixels back to each image's original pixels (inverting its letterbox) and clipped to it.
    /// </summary>
    public static IEnumerable<CocoResult> Predict(Tensor outputs, DensePoints points, IReadOnlyList<DetectionTarget> images, int numClasses,
        int height, int width, PostProcessOptions postProcess, Func<int, long> categoryIdOf)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(categoryIdOf);
        using var scope = NewDisposeScope();
        var (boxes, scores) = FcosLoss.Decode(outputs, points, numClasses, height, width);
        var list = new List<CocoResult>();
        for (var i = 0; i < images.Count; i++)
        {
            using var detections = DetectionPostProcess.Apply(boxes[i].cpu(), scores[i].cpu(), postProcess);
            if (detections.Count == 0)
                continue;
            var b = detections.Boxes.data<float>().ToArray();
            var s = detections.Scores.data<float>().ToArray();
            var l = detections.Labels.data<long>().ToArray();
            var target = images[i];
            for (var j = 0; j < s.Length; j++)
            {
                var box = target.Map.Invert(new BoundingBox(b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3])).Clip(target.OriginalWidth, target.OriginalHeight);
                if (box.IsEmpty)
                    continue;
                list.Add(new CocoResult(target.ImageId, categoryIdOf((int)l[j]), CocoBox.From(box), s[j]));
            }
        }
        return list;
    }
}
