using TorchSharp;
using VisionRwkv.Common;
using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// timm's batch-mode Mixup/CutMix: each batch is mixed with its own reverse (sample i with B-1-i) by a Beta(alpha, alpha)
/// weight; CutMix pastes a box instead and corrects the weight to the box's true area. Targets become soft: one-hot
/// rows mixed by the same weight, so every row sums to 1. Label smoothing is the loss's business (it applies
/// t(1-e) + e/K to these rows, which equals mixing smoothed rows: both are linear).
/// </summary>
public sealed class MixupCutmix
{
    private readonly AugmentConfig config;

    public MixupCutmix(AugmentConfig config, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numClasses);
        this.config = config;
        NumClasses = numClasses;
    }

    public int NumClasses { get; }

    /// <summary>One-hot rows: [B] int64 -> [B,K] float32.</summary>
    public Tensor OneHot(Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        using var idx = labels.to_type(ScalarType.Int64).unsqueeze(1); // [B,1]
        using var src = ones(labels.shape[0], 1, ScalarType.Float32); // [B,1]
        return zeros(labels.shape[0], NumClasses, ScalarType.Float32).scatter_(1, idx, src); // [B,K]
    }

    /// <summary>
    /// Mixes <paramref name="images"/> ([B,C,H,W], in place) and returns soft targets [B,K] float32. <paramref name="targets"/>
    /// is [B] int64 class indices or [B,K] float32 multi-hot/soft rows. The weight actually used is in <paramref name="lambda"/>.
    /// </summary>
    public Tensor Apply(Tensor images, Tensor targets, SeededRng rng, out double lambda)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(rng);
        using var scope = NewDisposeScope();
        var y1 = targets.dim() == 1 ? OneHot(targets) : targets.to_type(ScalarType.Float32);
        lambda = 1.0;
        if (config.MixesBatches && rng.Chance(config.MixupProb))
        {
            var useCutmix = config.CutmixAlpha > 0 && (config.MixupAlpha <= 0 || rng.Chance(config.MixupSwitchProb));
            if (useCutmix)
            {
                var lam = rng.NextBeta(config.CutmixAlpha, config.CutmixAlpha);
                long h = images.shape[2], w = images.shape[3];
                var ratio = Math.Sqrt(1 - lam);
                long cutH = (long)(h * ratio), cutW = (long)(w * ratio);
                long cy = rng.NextInt((int)h), cx = rng.NextInt((int)w);
                long yl = Math.Clamp(cy - cutH / 2, 0, h), yh = Math.Clamp(cy + cutH / 2, 0, h);
                long xl = Math.Clamp(cx - cutW / 2, 0, w), xh = Math.Clamp(cx + cutW / 2, 0, w);
                if (yh > yl && xh > xl)
                {
                    var box = new TensorIndex[] { TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(yl, yh), TensorIndex.Slice(xl, xh) };
                    var patch = images.flip(0)[box]; // [B,C,h,w] from the reversed batch
                    images[box] = patch;
                }
                lambda = 1 - (double)((yh - yl) * (xh - xl)) / (h * w);
            }
            else
            {
                lambda = rng.NextBeta(config.MixupAlpha, config.MixupAlpha);
                var flipped = images.flip(0);
                images.mul_(lambda).add_(flipped.mul_(1 - lambda));
            }
        }
        var mixed = y1.mul(lambda).add_(y1.flip(0).mul_(1 - lambda)); // [B,K]
        return mixed.MoveToOuterDisposeScope();
    }
}
