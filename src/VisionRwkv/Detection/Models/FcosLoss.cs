using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Models;

/// <summary>The three FCOS loss terms of a batch and their sum (what is minimised).</summary>
public sealed record FcosLossTerms(Tensor Total, Tensor Classification, Tensor Box, Tensor Centerness);

/// <summary>
/// FCOS's loss (mmdet's FCOS+ recipe): sigmoid focal loss over every non-ignored location and class, normalised by
/// the number of positives; GIoU loss of the positives' boxes weighted by their centerness targets and normalised by
/// the sum of those weights; binary cross-entropy of the centerness logit at positives, normalised by their number.
/// Focal and GIoU losses are TorchVision's (<c>torchvision.ops</c>), whose values the detection tests check by hand.
/// </summary>
public static class FcosLoss
{
    /// <summary>
    /// Packed ground truth of a batch as the engine carries it: [B,M,6] rows (x0, y0, x1, y1, label, crowd) in input
    /// pixels, with label -1 on padding rows.
    /// </summary>
    public const int TargetWidth = 6;

    /// <param name="outputs">[B,A,K+5] dense predictions.</param>
    /// <param name="targets">[B,M,6] packed ground truth.</param>
    /// <param name="points">Locations of the rows for the batch's input size.</param>
    /// <param name="config">Focal α/γ, centre-sampling radius, box weight.</param>
    public static FcosLossTerms Compute(Tensor outputs, Tensor targets, DensePoints points, DetectorConfig config)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(config);
        var layout = new DenseLayout(config.NumClasses);
        if (outputs.ndim != 3 || outputs.shape[1] != points.Count || outputs.shape[2] != layout.Width)
            throw new ArgumentException($"outputs [{string.Join(",", outputs.shape)}] do not match {points.Count} locations of {layout.Width} values");
        if (targets.ndim != 3 || targets.shape[2] != TargetWidth || targets.shape[0] != outputs.shape[0])
            throw new ArgumentException($"targets must be [B,M,{TargetWidth}], got [{string.Join(",", targets.shape)}]");
        using var scope = NewDisposeScope();
        long b = outputs.shape[0], a = outputs.shape[1];
        int k = config.NumClasses;
        var labels = new List<Tensor>((int)b);
        var distances = new List<Tensor>((int)b);
        using (no_grad())
        {
            var cpuTargets = targets.to(points.Points.device);
            for (var i = 0; i < b; i++)
            {
                var rows = cpuTargets[i];                                          // [M,6]
                rows = rows.index_select(0, (rows[.., 4] >= 0).nonzero().flatten());
                var t = FcosTargets.Assign(points.Points, points.Strides, points.Ranges, rows[.., ..4], rows[.., 4].to_type(ScalarType.Int64),
                    rows[.., 5] > 0.5, config.CenterSampleRadius);
                labels.Add(t.Labels);
                distances.Add(t.Distances);
            }
        }
        var device = outputs.device;
        var label = stack(labels).to(device).flatten();                             // [B·A]
        var targetLtrb = stack(distances).to(device).view(-1, 4);                  // [B·A,4]
        var flat = outputs.reshape(b * a, layout.Width);                           // [B·A,K+5]
        var valid = (label != FcosTargets.Ignore).nonzero().flatten();
        var positive = (label >= 0).nonzero().flatten();
        long positives = positive.shape[0];
        // Averaged over GPUs in mmdet; here the batch: at least 1 so that an image set without objects still trains the background.
        var normaliser = Math.Max(1.0, positives);

        var logits = flat[.., ..k].index_select(0, valid);                          // [V,K]
        var oneHot = zeros_like(logits);
        var validLabels = label.index_select(0, valid);
        var isPositive = (validLabels >= 0).nonzero().flatten();
        if (isPositive.shape[0] > 0)
            oneHot.index_put_(ones(isPositive.shape[0], device: device), isPositive, validLabels.index_select(0, isPositive));
        var clsLoss = torchvision.ops.sigmoid_focal_loss(logits, oneHot, config.FocalAlpha, config.FocalGamma, nn.Reduction.Sum) / normaliser;

        Tensor boxLoss, ctrLoss;
        if (positives > 0)
        {
            var predLtrb = flat[.., k..(k + 4)].index_select(0, positive);         // [P,4]
            var goldLtrb = targetLtrb.index_select(0, positive);                   // [P,4]
            var centerness = FcosTargets.Centerness(goldLtrb);                      // [P]
            // Both boxes around the same location: (−l, −t, r, b) relative to it; GIoU is translation invariant.
            var sign = tensor(new float[] { -1, -1, 1, 1 }, device: device);
            var giou = torchvision.ops.generalized_box_iou_loss(predLtrb * sign, goldLtrb * sign); // [P]
            boxLoss = (giou * centerness).sum() / centerness.sum().clamp_min(1e-6) * config.BoxLossWeight;
            var ctrLogits = flat[.., k + 4].index_select(0, positive);
            ctrLoss = nn.functional.binary_cross_entropy_with_logits(ctrLogits, centerness, reduction: nn.Reduction.Sum) / normaliser;
        }
        else
        {
            // Keep the graph connected (zero gradients) so that optimiser steps behave the same on empty batches.
            boxLoss = flat[.., k..(k + 4)].sum() * 0;
            ctrLoss = flat[.., k + 4].sum() * 0;
        }
        var total = clsLoss + boxLoss + ctrLoss;
        return new FcosLossTerms(total.MoveToOuterDisposeScope(), clsLoss.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope(), ctrLoss.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Per image, boxes [A,4] xyxy in input pixels (clipped to the input) and per-class scores [A,K] =
    /// sqrt(sigmoid(class) · sigmoid(centerness)), FCOS's ranking score, from dense predictions [B,A,K+5].
    /// </summary>
    public static (Tensor Boxes, Tensor Scores) Decode(Tensor outputs, DensePoints points, int numClasses, int height, int width)
    {
        using var scope = NewDisposeScope();
        int k = numClasses;
        var p = points.Points.to(outputs.device).unsqueeze(0);                     // [1,A,2]
        var d = outputs[.., .., k..(k + 4)];                                       // [B,A,4]
        var boxes = cat([p - d[.., .., ..2], p + d[.., .., 2..]], 2);               // [B,A,4]
        var xs = boxes.index_select(2, tensor(new long[] { 0, 2 }, device: outputs.device)).clamp(0, width);
        var ys = boxes.index_select(2, tensor(new long[] { 1, 3 }, device: outputs.device)).clamp(0, height);
        boxes = stack([xs[.., .., 0], ys[.., .., 0], xs[.., .., 1], ys[.., .., 1]], 2);
        var scores = (outputs[.., .., ..k].sigmoid() * outputs[.., .., (k + 4)..(k + 5)].sigmoid()).sqrt(); // [B,A,K]
        return (boxes.MoveToOuterDisposeScope(), scores.MoveToOuterDisposeScope());
    }
}
