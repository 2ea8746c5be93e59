using TorchSharp;
using VisionRwkv.Explain;
using VisionRwkv.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Explain;

/// <summary>
/// Sanity checks from the saliency literature on a tiny Vision-RWKV trained in the fixture (a few seconds): the
/// pointing game on a task whose evidence sits in a known patch, and the model-randomisation test (Adebayo et al. 2018).
/// In the torch-generator collection: the fixture seeds torch's global generator, which parallel tests would share.
/// </summary>
[Collection("TorchGeneratorCollection")]
public sealed class SanityTests(SyntheticEvidence task, ITestOutputHelper output) : IClassFixture<SyntheticEvidence>
{
    private static readonly SaliencyOptions Options = new() { OcclusionWindow = 4, OcclusionStride = 4 };

    /// <summary>The share of held-out images with evidence (classes 1 and 2) whose map peaks on it.</summary>
    private double HitRate(string name, IImageClassifier model, SaliencyMethod method, SaliencyOptions? options = null)
    {
        int hits = 0, count = 0;
        var perClass = new int[3];
        for (int n = 0; n < task.Test.Labels.Length; n++)
        {
            if (task.Test.Labels[n] == 0) continue;
            count++;
            using var scope = NewDisposeScope();
            var map = Saliency.Map(model, task.Test.Images[n], task.Test.Labels[n], method, options ?? Options);
            if (SyntheticEvidence.Hit(map, task.Test.Corners[n]))
            {
                hits++;
                perClass[task.Test.Labels[n]]++;
            }
        }
        output.WriteLine($"{name}: hits on class 1 (stripes) {perClass[1]}/{task.Test.Labels.Count(l => l == 1)}, "
            + $"class 2 (filled) {perClass[2]}/{task.Test.Labels.Count(l => l == 2)}");
        return hits / (double)count;
    }

    /// <summary>
    /// The pointing game. The issue asks for 80% for Grad-CAM and the WKV map; both defaults are held to it, and occlusion
    /// (the model-agnostic reference) to 70%, which shows the task is well posed. Two maps that do not follow the label
    /// must stay below 80%, or the task could no longer tell maps apart: the image's brightness (the distractor frame is
    /// brighter than the stripes) and the rollout of a uniform map through the first block's mixing (where the model
    /// looks, whatever the label); Grad-CAM must beat the latter, so its rollout alone does not carry it. The other
    /// variants are printed for the README's table (classic Grad-CAM falls short on a bidirectional model, see
    /// <see cref="GradCam"/>).
    /// </summary>
    [Fact]
    public void Grad_CAM_and_the_WKV_map_point_at_the_evidence_in_at_least_80_percent_of_images()
    {
        output.WriteLine($"trained {task.Steps} steps in {task.TrainingSeconds:F1} s; held-out accuracy {task.TestAccuracy:P1}");
        Assert.True(task.TestAccuracy >= 0.9, $"the tiny model did not learn the task ({task.TestAccuracy:P1})");
        int count = task.Test.Labels.Count(l => l > 0);
        var rates = new Dictionary<string, double>
        {
            ["gradcam"] = HitRate("gradcam", task.Model, SaliencyMethod.GradCam),
            ["gradcam-no-rollout"] = HitRate("gradcam-no-rollout", task.Model, SaliencyMethod.GradCam, Options with { GradCamRollout = false }),
            ["gradcam-relu"] = HitRate("gradcam-relu", task.Model, SaliencyMethod.GradCam, Options with { GradCamSign = GradCamSign.Positive }),
            ["gradcam-channel"] = HitRate("gradcam-channel", task.Model, SaliencyMethod.GradCam,
                Options with { GradCamWeighting = GradCamWeighting.Channel, GradCamSign = GradCamSign.Positive }),
            ["gradcam-first-block"] = HitRate("gradcam-first-block", task.Model, SaliencyMethod.GradCam, Options with { GradCamBlock = 0 }),
            ["gradcam-classic"] = HitRate("gradcam-classic", task.Model, SaliencyMethod.GradCam, Options.ClassicGradCam()),
            ["gradcam-classic-logodds"] = HitRate("gradcam-classic-logodds", task.Model, SaliencyMethod.GradCam,
                Options.ClassicGradCam() with { GradCamTarget = GradCamTarget.LogOdds }),
            ["wkv"] = HitRate("wkv", task.Model, SaliencyMethod.Wkv),
            ["wkv-mixing"] = HitRate("wkv-mixing", task.Model, SaliencyMethod.Wkv, Options with { WkvWeighting = WkvWeighting.Mixing }),
            ["wkv-last-block"] = HitRate("wkv-last-block", task.Model, SaliencyMethod.Wkv, Options with { WkvRollout = false }),
            ["occlusion"] = HitRate("occlusion", task.Model, SaliencyMethod.Occlusion),
            ["brightness"] = BaselineHitRate(image =>
            {
                // Each pixel's mean brightness over the 8x8 window centred on it.
                var padded = nn.functional.pad(image, [SyntheticEvidence.Shape / 2, SyntheticEvidence.Shape / 2 - 1, SyntheticEvidence.Shape / 2,
                    SyntheticEvidence.Shape / 2 - 1], value: image.min().item<float>());
                return nn.functional.avg_pool2d(padded, SyntheticEvidence.Shape, stride: 1)[0, 0];    // [32,32]
            }),
            ["uniform-rollout"] = BaselineHitRate(image =>
            {
                var (blocks, grid) = WkvAttribution.BlockInputs(task.Model, image);
                var mixing = WkvAttribution.MixingMatrix(blocks[0].K[0], blocks[0].W, blocks[0].U);
                var map = WkvAttribution.Rollback(ones(grid.Tokens), mixing);
                return Saliency.Upsample(map.reshape(grid.Height, grid.Width), SyntheticEvidence.Size, SyntheticEvidence.Size);
            }),
        };
        foreach (var (name, rate) in rates) output.WriteLine($"pointing game {name}: {rate:P1} of {count}");
        Assert.True(rates["occlusion"] >= 0.7, $"occlusion hit rate {rates["occlusion"]:P1}: the task or the model is broken");
        Assert.True(rates["brightness"] < 0.8, $"the image's brightness hits {rates["brightness"]:P1}: the task no longer tells maps apart");
        Assert.True(rates["uniform-rollout"] < 0.8, $"a label-free rollout hits {rates["uniform-rollout"]:P1}: the task no longer tells maps apart");
        Assert.True(rates["gradcam"] >= 0.8, $"Grad-CAM hit rate {rates["gradcam"]:P1}, below the issue's 80%");
        Assert.True(rates["gradcam"] > rates["uniform-rollout"], "Grad-CAM does no better than its rollout of a uniform map");
        Assert.True(rates["wkv"] >= 0.8, $"WKV map hit rate {rates["wkv"]:P1}, below the issue's 80%");
    }

    /// <summary>The hit rate of a baseline map computed from the image [1,1,32,32] alone: [32,32].</summary>
    private double BaselineHitRate(Func<Tensor, Tensor> map)
    {
        int hits = 0, count = 0;
        for (int n = 0; n < task.Test.Labels.Length; n++)
        {
            if (task.Test.Labels[n] == 0) continue;
            count++;
            using var scope = NewDisposeScope();
            if (SyntheticEvidence.Hit(Saliency.MinMax(map(task.Test.Images[n].unsqueeze(0))), task.Test.Corners[n])) hits++;
        }
        return hits / (double)count;
    }

    /// <summary>Spearman rank correlation of two maps (average ranks for ties; an all-zero Grad-CAM map is constant).</summary>
    internal static double Spearman(float[,] a, float[,] b)
    {
        static double[] Ranks(float[] v)
        {
            var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            var ranks = new double[v.Length];
            for (int i = 0; i < order.Length;)
            {
                int j = i;
                while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
                for (int k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2.0;
                i = j + 1;
            }
            return ranks;
        }
        var ra = Ranks(a.Cast<float>().ToArray());
        var rb = Ranks(b.Cast<float>().ToArray());
        double ma = ra.Average(), mb = rb.Average(), num = 0, da = 0, db = 0;
        for (int i = 0; i < ra.Length; i++)
        {
            num += (ra[i] - ma) * (rb[i] - mb);
            da += (ra[i] - ma) * (ra[i] - ma);
            db += (rb[i] - mb) * (rb[i] - mb);
        }
        if (da == 0 || db == 0) return da == db ? 1 : 0;     // two constant maps rank alike; one constant map, no relation
        return num / Math.Sqrt(da * db);
    }

    [Theory]
    [InlineData(SaliencyMethod.GradCam)]
    [InlineData(SaliencyMethod.Wkv)]
    [InlineData(SaliencyMethod.Occlusion)]
    public void Maps_change_when_the_model_weights_are_randomised(SaliencyMethod method)
    {
        // Adebayo et al. 2018: a map that survives randomising the weights explains the image, not the model. Methods
        // that pass their test reach rank correlations near 0 after randomising every layer; edge-detector-like maps
        // stay near 1. We require the mean Spearman correlation over images below 0.5, half way, and check that the
        // same computation on the unchanged model gives 1 (so the statistic can tell the two apart).
        const int count = 10;
        torch.manual_seed(99);
        using var random = new VrwkvClassifier(SyntheticEvidence.Config, "randomised");
        random.eval();
        double same = 0, randomised = 0;
        for (int n = 0; n < count; n++)
        {
            using var scope = NewDisposeScope();
            var image = task.Test.Images[n];
            int label = task.Test.Labels[n];
            var trained = Saliency.Map(task.Model, image, label, method, Options);
            same += Spearman(trained, Saliency.Map(task.Model, image, label, method, Options));
            randomised += Spearman(trained, Saliency.Map(random, image, label, method, Options));
        }
        same /= count;
        randomised /= count;
        output.WriteLine($"{method}: mean Spearman trained vs itself {same:F3}, trained vs randomised {randomised:F3}");
        Assert.True(same > 0.999, $"{method} is not deterministic ({same:F3})");
        Assert.True(randomised < 0.5, $"{method} barely changed under randomisation (Spearman {randomised:F3})");
    }
}
