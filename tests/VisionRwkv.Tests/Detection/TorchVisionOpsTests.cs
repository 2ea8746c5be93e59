using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Detection;

/// <summary>
/// TorchSharp's TorchVision 0.107 box ops and losses, each on a case worked out by hand, so the detector can rely on
/// them (and on what they do not do). Boxes are xyxy unless stated.
/// </summary>
public sealed class TorchVisionOpsTests
{
    private static Tensor T(params float[][] rows) => tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    private static void Close(double expected, Tensor actual, double tol = 1e-5) =>
        Assert.True(Math.Abs(expected - actual.ToDouble()) < tol, $"expected {expected}, got {actual.ToDouble()}");

    [Fact]
    public void Box_iou_of_two_overlapping_squares_is_one_seventh()
    {
        // [0,0,10,10] and [5,5,15,15]: intersection 5x5 = 25, union 100 + 100 - 25 = 175 -> 1/7. Disjoint -> 0.
        using var scope = NewDisposeScope();
        var a = T([0, 0, 10, 10]);
        var b = T([5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10]);
        var iou = torchvision.ops.box_iou(a, b); // [1,3]
        Assert.Equal([1L, 3L], iou.shape);
        Close(1.0 / 7, iou[0, 0]);
        Close(0, iou[0, 1]);
        Close(1, iou[0, 2]);
    }

    [Fact]
    public void Generalized_iou_subtracts_the_empty_part_of_the_enclosing_box()
    {
        // Overlapping pair: IoU 1/7, enclosing box [0,0,15,15] = 225, union 175 -> GIoU = 1/7 - 50/225 = -0.0793651.
        // Disjoint pair [0,0,10,10], [20,20,30,30]: IoU 0, union 200, enclosing 30x30 = 900 -> -700/900.
        using var scope = NewDisposeScope();
        var giou = torchvision.ops.generalized_box_iou(T([0, 0, 10, 10]), T([5, 5, 15, 15], [20, 20, 30, 30]));
        Close(1.0 / 7 - 50.0 / 225, giou[0, 0]);
        Close(-700.0 / 900, giou[0, 1]);
    }

    [Fact]
    public void Generalized_iou_loss_is_one_minus_giou_per_pair_and_has_gradients()
    {
        // Element-wise (pairs, not a matrix): loss = 1 - GIoU; identical boxes -> 0. Mean over the three pairs.
        using var scope = NewDisposeScope();
        var pred = T([0, 0, 10, 10], [0, 0, 10, 10], [2, 2, 4, 4]).requires_grad_(true);
        var target = T([5, 5, 15, 15], [20, 20, 30, 30], [2, 2, 4, 4]);
        var loss = torchvision.ops.generalized_box_iou_loss(pred, target); // [3]
        Close(1 - (1.0 / 7 - 50.0 / 225), loss[0]);
        Close(1 + 700.0 / 900, loss[1]);
        Close(0, loss[2]);
        var mean = torchvision.ops.generalized_box_iou_loss(pred, target, nn.Reduction.Mean);
        Close((2 - 1.0 / 7 + 50.0 / 225 + 700.0 / 900) / 3, mean);
        mean.backward();
        Assert.True(pred.grad is not null && pred.grad.abs().sum().ToDouble() > 0);
    }

    [Fact]
    public void Box_convert_moves_between_xyxy_xywh_and_cxcywh()
    {
        using var scope = NewDisposeScope();
        var fmt = typeof(torchvision.ops.BoxFormats);
        Assert.True(fmt.IsEnum);
        var xywh = T([1, 2, 3, 4]);
        var xyxy = torchvision.ops.box_convert(xywh, torchvision.ops.BoxFormats.xywh, torchvision.ops.BoxFormats.xyxy);
        Assert.Equal([1f, 2f, 4f, 6f], xyxy.data<float>().ToArray());
        var cxcywh = torchvision.ops.box_convert(xyxy, torchvision.ops.BoxFormats.xyxy, torchvision.ops.BoxFormats.cxcywh);
        Assert.Equal([2.5f, 4f, 3f, 4f], cxcywh.data<float>().ToArray());
        var back = torchvision.ops.box_convert(cxcywh, torchvision.ops.BoxFormats.cxcywh, torchvision.ops.BoxFormats.xywh);
        Assert.Equal([1f, 2f, 3f, 4f], back.data<float>().ToArray());
    }

    [Fact]
    public void Sigmoid_focal_loss_matches_the_formula_at_three_points()
    {
        // FL = alpha_t (1 - p_t)^gamma CE with p = sigmoid(x), alpha = 0.25, gamma = 2:
        //   x = 0, y = 1: p_t = 1/2, CE = ln 2, alpha_t = 0.25 -> 0.25 * 0.25 * ln 2 = 0.0433217
        //   x = 0, y = 0: p_t = 1/2, alpha_t = 0.75              -> 0.75 * 0.25 * ln 2 = 0.1299651
        //   x = 2, y = 1: p = 0.8807971, CE = -ln p = 0.1269280, (1 - p)^2 = 0.0142094 -> 0.25 * 0.0142094 * 0.1269280
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 0, 0, 2 });
        var y = tensor(new float[] { 1, 0, 1 });
        var p2 = 1 / (1 + Math.Exp(-2));
        double[] expected = [0.25 * 0.25 * Math.Log(2), 0.75 * 0.25 * Math.Log(2), 0.25 * (1 - p2) * (1 - p2) * -Math.Log(p2)];
        // Double arguments select the overload that reduces after weighting (see the next test for the float one).
        var loss = torchvision.ops.sigmoid_focal_loss(x, y, 0.25, 2.0, nn.Reduction.None);
        for (var i = 0; i < 3; i++)
            Close(expected[i], loss[i], 1e-6);
        Close(expected.Sum(), torchvision.ops.sigmoid_focal_loss(x, y, 0.25, 2.0, nn.Reduction.Sum), 1e-6);
        Close(expected.Average(), torchvision.ops.sigmoid_focal_loss(x, y, 0.25, 2.0, nn.Reduction.Mean), 1e-6);
    }

    [Fact]
    public void Float_overload_of_sigmoid_focal_loss_reduces_too_early_so_call_the_double_one()
    {
        // TorchVision 0.107 has two sigmoid_focal_loss overloads. The (float alpha, float gamma) one passes the reduction
        // into the cross-entropy too, so with Mean it weights the *mean* CE by each element's factor and then averages:
        // a different number. This test pins that trap; if it starts failing, the overload was fixed upstream.
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 0, 0, 2 });
        var y = tensor(new float[] { 1, 0, 1 });
        var right = torchvision.ops.sigmoid_focal_loss(x, y, 0.25, 2.0, nn.Reduction.Mean).ToDouble();
        var floatOverload = torchvision.ops.sigmoid_focal_loss(x, y, 0.25f, 2.0f, nn.Reduction.Mean).ToDouble();
        Assert.True(Math.Abs(right - floatOverload) > 1e-3, $"float overload {floatOverload} now equals the double one {right}");
    }

    [Fact]
    public void Nms_keeps_the_best_box_of_each_overlapping_group_by_descending_score()
    {
        // A = [0,0,10,10] 0.9; B = [1,0,11,10] 0.8 (IoU with A = 90/110 = 0.818); C = [20,20,30,30] 0.7 (disjoint);
        // D = [0,0,10,5] 0.95 (IoU with A = 50/100 = 0.5, not above 0.5: kept; IoU with B = 45/105).
        // Threshold 0.5: D kept, A kept (0.5 is not > 0.5), B suppressed by A, C kept -> [D, A, C] = [3, 0, 2].
        using var scope = NewDisposeScope();
        var boxes = T([0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]);
        var scores = tensor(new float[] { 0.9f, 0.8f, 0.7f, 0.95f });
        Assert.Equal([3L, 0L, 2L], torchvision.ops.nms(boxes, scores, 0.5).data<long>().ToArray());
        // At 0.4 D suppresses A (0.5 > 0.4) and B (45/105 = 0.43 > 0.4): [D, C].
        Assert.Equal([3L, 2L], torchvision.ops.nms(boxes, scores, 0.4).data<long>().ToArray());
    }

    [Fact]
    public void Nms_handles_zero_and_one_box()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(0, torchvision.ops.nms(zeros(0, 4), zeros(0), 0.5).shape[0]);
        Assert.Equal([0L], torchvision.ops.nms(T([0, 0, 1, 1]), tensor(new float[] { 0.3f }), 0.5).data<long>().ToArray());
        // Two boxes where the second survives: the loop ends with a single remaining index.
        Assert.Equal([1L, 0L], torchvision.ops.nms(T([0, 0, 1, 1], [5, 5, 6, 6]), tensor(new float[] { 0.3f, 0.4f }), 0.5).data<long>().ToArray());
    }
}
