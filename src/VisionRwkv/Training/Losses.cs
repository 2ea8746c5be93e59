using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>The training and evaluation losses: cross-entropy (hard or soft targets) and BCE-with-logits.</summary>
public static class Losses
{
    /// <summary>
    /// Mean loss of a batch. Single-label: int64 targets [B] use cross-entropy with label smoothing; float targets [B,K]
    /// (mixup/CutMix) use soft cross-entropy -sum(t' * log_softmax) with t' = t(1-e) + e/K. Multi-label: BCE-with-logits
    /// with optional per-label <paramref name="posWeight"/> [K]; a NaN target is masked (see <see cref="MaskedBce"/>).
    /// </summary>
    public static Tensor Compute(Tensor logits, Tensor targets, bool multiLabel, double labelSmoothing = 0, Tensor? posWeight = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.dim() != 2)
            throw new ArgumentException($"Logits must be [B,K]; got [{string.Join(",", logits.shape)}].");
        if (multiLabel)
        {
            if (targets.dim() != 2 || targets.shape[1] != logits.shape[1])
                throw new ArgumentException($"Multi-label targets must be float [B,{logits.shape[1]}]; got [{string.Join(",", targets.shape)}].");
            return MaskedBce(logits, targets.to_type(logits.dtype), posWeight);
        }
        if (targets.dtype == ScalarType.Int64 && targets.dim() == 1)
            return nn.functional.cross_entropy(logits, targets, label_smoothing: labelSmoothing);
        if (targets.dim() == 2 && targets.shape[1] == logits.shape[1] && targets.is_floating_point())
        {
            using var scope = NewDisposeScope();
            var t = targets.to_type(logits.dtype);
            if (labelSmoothing > 0)
                t = t * (1 - labelSmoothing) + labelSmoothing / logits.shape[1];
            var loss = -(t * nn.functional.log_softmax(logits, 1)).sum(1).mean(); // [B] -> []
            return loss.MoveToOuterDisposeScope();
        }
        throw new ArgumentException(
            $"Targets must be int64 [B] class ids or float [B,{logits.shape[1]}]; got {targets.dtype} [{string.Join(",", targets.shape)}].");
    }

    /// <summary>
    /// BCE-with-logits averaged over the (image, label) pairs whose target is not NaN. A NaN target (a missing label, or
    /// an uncertain one under CheXpert's U-Ignore) is replaced by 0 and given weight 0, so neither its value nor its logit
    /// affects the loss or the gradient; with no NaN this is exactly the plain mean. All masked gives 0 (and no gradient).
    /// </summary>
    public static Tensor MaskedBce(Tensor logits, Tensor targets, Tensor? posWeight = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        using var scope = NewDisposeScope();
        var mask = targets.isnan().logical_not().to_type(logits.dtype); // [B,K]
        var clean = targets.nan_to_num(0); // [B,K]
        var perPair = nn.functional.binary_cross_entropy_with_logits(logits, clean, null, nn.Reduction.None, posWeight); // [B,K]
        var loss = (perPair * mask).sum() / mask.sum().clamp_min(1);
        return loss.MoveToOuterDisposeScope();
    }
}
