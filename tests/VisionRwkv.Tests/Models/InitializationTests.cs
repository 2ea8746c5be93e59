using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Models;

public class InitializationTests
{
    [Fact]
    public void Truncated_normal_has_the_requested_spread_and_stays_inside_its_bounds()
    {
        using var scope = NewDisposeScope();
        var t = empty(1000, 768);
        Initialization.TruncNormal(t, std: 0.02);
        Assert.False(t.isnan().any().item<bool>());
        Assert.InRange(t.std().item<float>(), 0.0195f, 0.0205f);
        Assert.InRange(t.mean().item<float>(), -0.0005f, 0.0005f);
        // A normal of std 0.02 exceeds 0.06 (3 sigma) for about 0.27% of values: the tails exist, unclamped at ±std.
        Assert.True(t.abs().gt(0.06).sum().item<long>() > 100);

        var narrow = empty(10000);
        Initialization.TruncNormal(narrow, std: 1, a: -0.5, b: 0.5);
        Assert.InRange(narrow.min().item<float>(), -0.5f, -0.49f);
        Assert.InRange(narrow.max().item<float>(), 0.49f, 0.5f);
    }
}
