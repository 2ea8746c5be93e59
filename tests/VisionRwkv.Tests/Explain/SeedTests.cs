using VisionRwkv.Explain;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Explain;

/// <summary>
/// The pointing-game bar on other seeds of the evidence task (other initialisations, other training and test images):
/// one seed could flatter a map. Each trains its own tiny model (about 3 s).
/// In the torch-generator collection: the task seeds torch's global generator.
/// </summary>
[Collection("TorchGeneratorCollection")]
public sealed class SeedTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Grad_CAM_and_the_WKV_map_point_at_the_evidence_in_at_least_80_percent_of_images_on_another_seed(int seed)
    {
        using var task = new SyntheticEvidence(steps: 150, testImages: 60, seed: seed);
        Assert.True(task.TestAccuracy >= 0.9, $"seed {seed}: the tiny model did not learn the task ({task.TestAccuracy:P1})");
        var options = new SaliencyOptions { OcclusionWindow = 4, OcclusionStride = 4 };
        double Rate(SaliencyMethod method, SaliencyOptions o)
        {
            int hits = 0, count = 0;
            for (int n = 0; n < task.Test.Labels.Length; n++)
            {
                if (task.Test.Labels[n] == 0) continue;
                count++;
                using var scope = NewDisposeScope();
                if (SyntheticEvidence.Hit(Saliency.Map(task.Model, task.Test.Images[n], task.Test.Labels[n], method, o), task.Test.Corners[n])) hits++;
            }
            return hits / (double)count;
        }
        double gradcam = Rate(SaliencyMethod.GradCam, options), wkv = Rate(SaliencyMethod.Wkv, options);
        double classic = Rate(SaliencyMethod.GradCam, options.ClassicGradCam()), occlusion = Rate(SaliencyMethod.Occlusion, options);
        output.WriteLine($"seed {seed}: accuracy {task.TestAccuracy:P1}; pointing game gradcam {gradcam:P1}, wkv {wkv:P1}, "
            + $"classic Grad-CAM {classic:P1}, occlusion {occlusion:P1}");
        Assert.True(gradcam >= 0.8, $"seed {seed}: Grad-CAM hit rate {gradcam:P1}, below the issue's 80%");
        Assert.True(wkv >= 0.8, $"seed {seed}: WKV map hit rate {wkv:P1}, below the issue's 80%");
    }
}
