using VisionRwkv.Diagnostics;
using VisionRwkv.Tests.Checkpoints;
using VisionRwkv.Wkv;

namespace VisionRwkv.Tests.Diagnostics;

public class GoldenTests
{
    [VrwkvGoldenFact]
    public void Every_vision_rwkv_golden_matches_forward_and_backward_within_1e_4_with_the_fast_wkv() =>
        AssertAllGoldensPass(WkvImplementation.Fast);

    // The serial-scan reference takes about a minute on 2 cores; the fast path above is the one models use.
    [VrwkvGoldenFact]
    [Trait("Category", "Slow")]
    public void Every_vision_rwkv_golden_matches_forward_and_backward_within_1e_4_with_the_reference_wkv() =>
        AssertAllGoldensPass(WkvImplementation.Reference);

    private static void AssertAllGoldensPass(WkvImplementation impl)
    {
        var files = Directory.GetFiles(TestPaths.VrwkvExactDir, "*.safetensors");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var result = GoldenCheck.Run(file, GoldenCheck.DefaultTolerance, impl);
            var failures = result.Comparisons.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.MaxRelativeError:E2}");
            Assert.True(result.Passed, $"{Path.GetFileName(file)} ({impl}): {string.Join("; ", failures)}");
            // Every stored gradient was compared, and the three outputs too.
            Assert.Contains(result.Comparisons, c => c.Name == "features");
            Assert.Contains(result.Comparisons, c => c.Name.StartsWith("grad.", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_mismatch_above_tolerance_is_reported_as_a_failure()
    {
        using var a = TorchSharp.torch.tensor(new float[] { 1, 2, 3, 4 });
        using var b = TorchSharp.torch.tensor(new float[] { 1, 2, 3, 4.01f });
        var c = GoldenCheck.Compare("x", a, b, 1e-4);
        Assert.False(c.Passed);
        Assert.Equal(0.01 / 4.01, c.MaxRelativeError, 4);
    }
}
