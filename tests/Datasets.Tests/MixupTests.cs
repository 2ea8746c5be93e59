using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;
using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Tests;

public sealed class MixupTests
{
    /// <summary>Batch of 6: sample i is the constant image i, label i.</summary>
    private static (Tensor Images, Tensor Labels) Batch()
    {
        var images = arange(6, ScalarType.Float32).reshape(6, 1, 1, 1).expand(6, 3, 16, 16).contiguous();
        return (images, arange(6, ScalarType.Int64));
    }

    [Fact]
    public void Mixup_blends_each_sample_with_its_mirror_and_targets_sum_to_one()
    {
        var (images, labels) = Batch();
        using var _ = images;
        using var __ = labels;
        var mix = new MixupCutmix(new AugmentConfig { MixupAlpha = 0.8 }, 6);
        using var targets = mix.Apply(images, labels, new SeededRng(3), out var lam);
        Assert.InRange(lam, 0, 1);
        Assert.Equal(new long[] { 6, 6 }, targets.shape);
        var t = targets.data<float>().ToArray();
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(1f, t.Skip(i * 6).Take(6).Sum(), 1e-5f);
            Assert.Equal((float)(lam * i + (1 - lam) * (5 - i)), images[i, 0, 0, 0].item<float>(), 1e-5f);
            // lam on its own label, 1 - lam on the mirror's, nothing elsewhere (smoothing is the loss's business).
            Assert.Equal((float)lam, t[i * 6 + i], 1e-5f);
            Assert.Equal((float)(1 - lam), t[i * 6 + 5 - i], 1e-5f);
        }
    }

    [Fact]
    public void Cutmix_lambda_is_the_area_left_untouched()
    {
        for (ulong seed = 0; seed < 10; seed++)
        {
            var (images, labels) = Batch();
            using var _ = images;
            using var __ = labels;
            var mix = new MixupCutmix(new AugmentConfig { CutmixAlpha = 1.0 }, 6);
            using var targets = mix.Apply(images, labels, new SeededRng(seed), out var lam);
            var sample0 = images[0].data<float>().ToArray();
            var kept = sample0.Count(v => v == 0f) / (double)sample0.Length;
            Assert.Equal(lam, kept, 1e-9);
            var t = targets.data<float>().ToArray();
            Assert.Equal((float)lam, t[0], 1e-6f);
            Assert.Equal((float)(1 - lam), t[5], 1e-6f);
            for (var i = 0; i < 6; i++)
                Assert.Equal(1f, t.Skip(i * 6).Take(6).Sum(), 1e-5f);
        }
    }

    [Fact]
    public void Without_mixing_targets_are_one_hot()
    {
        var (images, labels) = Batch();
        using var _ = images;
        using var __ = labels;
        var mix = new MixupCutmix(new AugmentConfig(), 6);
        using var targets = mix.Apply(images, labels, new SeededRng(0), out var lam);
        Assert.Equal(1.0, lam);
        var t = targets.data<float>().ToArray();
        Assert.Equal(1f, t[7]);
        Assert.Equal(0f, t[8]);
    }

    [Fact]
    public void Gamma_and_beta_samplers_have_the_right_means()
    {
        var r = new SeededRng(11);
        foreach (var shape in new[] { 0.5, 1.0, 3.0 })
        {
            double mean = Enumerable.Range(0, 20000).Select(_ => r.NextGamma(shape)).Average();
            Assert.InRange(mean, shape * 0.95, shape * 1.05);
        }
        // Beta(0.8, 0.8) has mean 0.5 and variance ab/((a+b)^2 (a+b+1)) = 0.64/(2.56*2.6) = 0.0962.
        var b = Enumerable.Range(0, 20000).Select(_ => r.NextBeta(0.8, 0.8)).ToArray();
        Assert.InRange(b.Average(), 0.49, 0.51);
        Assert.InRange(b.Select(v => (v - 0.5) * (v - 0.5)).Average(), 0.090, 0.102);
    }
}
