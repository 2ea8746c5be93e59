using VisionRwkv.Runs;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Training;

/// <summary>Masked (NaN) multi-label targets: out of the loss, the gradient and the metrics.</summary>
public sealed class MaskedLabelTests
{
    private static (float Loss, float[] Grad) LossAndGrad(float[] logits, float[] targets, float[]? posWeight = null)
    {
        using var scope = NewDisposeScope();
        var z = tensor(logits, [2, 3]).requires_grad_(); // [B,K]
        var t = tensor(targets, [2, 3]); // [B,K]
        var pw = posWeight is null ? null : tensor(posWeight);
        var loss = Losses.Compute(z, t, multiLabel: true, posWeight: pw);
        loss.backward();
        return (loss.item<float>(), z.grad!.data<float>().ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_masked_label_has_no_effect_on_the_loss_or_the_gradient(bool withPosWeight)
    {
        float[]? pw = withPosWeight ? [3f, 0.5f, 2f] : null;
        float[] logits = [0.3f, -1.2f, 2.0f, 0.7f, 0.1f, -0.4f];
        float[] masked = [1, float.NaN, 0, 0, 1, float.NaN];
        var (loss, grad) = LossAndGrad(logits, masked, pw);
        // Changing the masked pairs' logits changes nothing.
        float[] otherLogits = [0.3f, 9f, 2.0f, 0.7f, 0.1f, -7f];
        var (loss2, grad2) = LossAndGrad(otherLogits, masked, pw);
        Assert.Equal(loss, loss2, 6);
        Assert.Equal(0f, grad[1]);
        Assert.Equal(0f, grad[5]);
        Assert.Equal(grad, grad2);
        Assert.True(float.IsFinite(loss));

        // Reference: the mean over the four unmasked pairs of the textbook BCE, -w*y*log(s) - (1-y)*log(1-s).
        double expected = 0;
        int[] kept = [0, 2, 3, 4];
        foreach (var j in kept)
        {
            double s = 1 / (1 + Math.Exp(-logits[j])), y = masked[j], w = pw?[j % 3] ?? 1;
            expected += -(w * y * Math.Log(s) + (1 - y) * Math.Log(1 - s));
        }
        Assert.Equal(expected / kept.Length, loss, 5);
        // Its gradient: (w*y*(s-1) + (1-y)*s) / 4 on the kept pairs.
        foreach (var j in kept)
        {
            double s = 1 / (1 + Math.Exp(-logits[j])), y = masked[j], w = pw?[j % 3] ?? 1;
            Assert.Equal((w * y * (s - 1) + (1 - y) * s) / kept.Length, grad[j], 5);
        }
    }

    [Fact]
    public void Without_masks_the_loss_is_torchs_plain_mean_bce()
    {
        float[] logits = [0.3f, -1.2f, 2.0f, 0.7f, 0.1f, -0.4f];
        float[] targets = [1, 0, 0, 0, 1, 1];
        using var scope = NewDisposeScope();
        var plain = nn.functional.binary_cross_entropy_with_logits(tensor(logits, [2, 3]), tensor(targets, [2, 3])).item<float>();
        Assert.Equal(plain, LossAndGrad(logits, targets).Loss, 6);
    }

    [Fact]
    public void An_all_masked_batch_gives_zero_loss_and_zero_gradient()
    {
        var nan = float.NaN;
        var (loss, grad) = LossAndGrad([1, 2, 3, 4, 5, 6], [nan, nan, nan, nan, nan, nan]);
        Assert.Equal(0f, loss);
        Assert.All(grad, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Masked_metrics_drop_the_masked_pairs_and_match_the_unmasked_subset()
    {
        // Label 0: the masked image would flip the ranking if it counted as a negative.
        float[] scores = [0.9f, 0.1f, 0.8f, 0.2f, 0.95f, 0.3f, 0.1f, 0.7f];
        float[] targets = [1, 0, 0, 1, float.NaN, 0, 0, 1];
        var masked = MultiLabelMetrics.ComputeMasked(scores, targets, 2);
        Assert.Equal(MultiLabelMetrics.Auroc([0.9f, 0.8f, 0.1f], [true, false, false]), masked.Auroc[0], 12);
        Assert.Equal(1.0, masked.Auroc[0], 12);
        Assert.Equal(MultiLabelMetrics.Auroc([0.1f, 0.2f, 0.3f, 0.7f], [false, true, false, true]), masked.Auroc[1], 12);
        var plain = MultiLabelMetrics.Compute(scores, targets.Select(t => t == 1).ToArray(), 2);
        Assert.NotEqual(plain.Auroc[0], masked.Auroc[0]);
    }

    [Fact]
    public void A_multi_label_data_run_trains_with_bce_and_keeps_the_best_checkpoint_by_mean_validation_auroc()
    {
        var spec = new RunSpec();
        Assert.Equal("val_top1", spec.Train.BestMetric);
        var adapted = ClassifierRun.ForData(spec, multiLabelData: true);
        Assert.True(adapted.Train.MultiLabel);
        Assert.Equal("val_auroc", adapted.Train.BestMetric);
        Assert.Equal(0, adapted.Train.LabelSmoothing);
        Assert.Same(spec, ClassifierRun.ForData(spec, multiLabelData: false));
        var ema = spec with { Train = spec.Train with { Ema = true, BestMetric = "ema_top1" } };
        Assert.Equal("ema_auroc", ClassifierRun.ForData(ema, true).Train.BestMetric);
        Assert.Equal("val_auroc", TrainConfig.MultiLabelDefault.BestMetric);
    }
}
