using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>
/// Batch-level mixup and CutMix (timm semantics, pairing each sample with the batch reversed). With probability
/// <see cref="TrainConfig.MixupProb"/> a batch is mixed: by CutMix with probability <see cref="TrainConfig.MixupSwitchProb"/>
/// when both are on, else by mixup. Mixed targets are float [B,K]; CutMix's lambda is corrected to the pasted area.
/// </summary>
public sealed class MixupCutmix : IBatchHook
{
    readonly double _mixupAlpha, _cutmixAlpha, _prob, _switchProb;

    /// <summary>Reads alphas and probabilities from the config.</summary>
    public MixupCutmix(TrainConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _mixupAlpha = config.MixupAlpha;
        _cutmixAlpha = config.CutmixAlpha;
        _prob = config.MixupProb;
        _switchProb = config.MixupSwitchProb;
    }

    /// <inheritdoc />
    public (Tensor Inputs, Tensor Targets) Apply(Tensor inputs, Tensor targets, int numClasses, Random rng)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(rng);
        if ((_mixupAlpha <= 0 && _cutmixAlpha <= 0) || rng.NextDouble() >= _prob)
            return (inputs, targets);
        bool cutmix = _cutmixAlpha > 0 && (_mixupAlpha <= 0 || rng.NextDouble() < _switchProb);
        var soft = targets.is_floating_point() && targets.dim() == 2
            ? targets
            : nn.functional.one_hot(targets, numClasses).to_type(ScalarType.Float32); // [B,K]
        Tensor mixed;
        double lam;
        if (cutmix)
        {
            lam = SampleBeta(rng, _cutmixAlpha);
            long h = inputs.shape[2], w = inputs.shape[3];
            double ratio = Math.Sqrt(1 - lam);
            long cutH = (long)(h * ratio), cutW = (long)(w * ratio);
            long cy = rng.NextInt64(h), cx = rng.NextInt64(w);
            long y1 = Math.Clamp(cy - cutH / 2, 0, h), y2 = Math.Clamp(cy + cutH / 2, 0, h);
            long x1 = Math.Clamp(cx - cutW / 2, 0, w), x2 = Math.Clamp(cx + cutW / 2, 0, w);
            mixed = inputs.clone();
            if (y2 > y1 && x2 > x1)
            {
                var flipped = inputs.flip(0);
                var region = TensorIndex.Slice(y1, y2);
                var cols = TensorIndex.Slice(x1, x2);
                mixed[TensorIndex.Colon, TensorIndex.Colon, region, cols] = flipped[TensorIndex.Colon, TensorIndex.Colon, region, cols];
            }
            lam = 1 - (double)((y2 - y1) * (x2 - x1)) / (h * w);
        }
        else
        {
            lam = SampleBeta(rng, _mixupAlpha);
            mixed = inputs * lam + inputs.flip(0) * (1 - lam);
        }
        var mixedTargets = soft * lam + soft.flip(0) * (1 - lam);
        return (mixed, mixedTargets);
    }

    /// <summary>Beta(a, a) as X/(X+Y) of two Gamma(a) draws.</summary>
    internal static double SampleBeta(Random rng, double alpha)
    {
        double x = SampleGamma(rng, alpha), y = SampleGamma(rng, alpha);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang (2000), with the shape &lt; 1 boost U^(1/shape).</summary>
    internal static double SampleGamma(Random rng, double shape)
    {
        if (shape < 1)
            return SampleGamma(rng, shape + 1) * Math.Pow(1 - rng.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double z, v;
            do
            {
                z = Normal(rng);
                v = 1 + c * z;
            } while (v <= 0);
            v = v * v * v;
            double u = 1 - rng.NextDouble();
            if (Math.Log(u) < 0.5 * z * z + d - d * v + d * Math.Log(v))
                return d * v;
        }
    }

    static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
