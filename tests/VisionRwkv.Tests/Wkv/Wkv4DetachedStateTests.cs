using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Wkv;

public class Wkv4DetachedStateTests
{
    [Theory]
    [InlineData(WkvImplementation.Auto)]
    [InlineData(WkvImplementation.Chunked)]
    public void Without_a_differentiable_state_y_its_gradients_and_the_state_values_are_unchanged(WkvImplementation impl)
    {
        var c = new WkvCase(seed: 31, b: 2, t: 37, c: 9, kMax: 8, wMin: 0.01, wMax: 3);
        using var scope = NewDisposeScope();
        var (k1, v1, w1) = (c.Kt(grad: true), c.Vt(grad: true), c.Wt(grad: true));
        var (k2, v2, w2) = (c.Kt(grad: true), c.Vt(grad: true), c.Wt(grad: true));
        var (y1, s1) = Wkv4.Causal(k1, v1, w1, c.Ut(), null, impl);
        var (y2, s2) = Wkv4.Causal(k2, v2, w2, c.Ut(), null, impl, differentiableState: false);
        Assert.True(s1.Num.requires_grad);
        Assert.False(s2.Num.requires_grad || s2.Den.requires_grad || s2.MaxLog.requires_grad);
        Assert.Equal(0, (y1 - y2).abs().max().item<float>());
        // Same sums: compare the real values a·e^p (the log-scales may be chosen differently).
        var real1 = s1.Num * (s1.MaxLog - s2.MaxLog).exp();
        Assert.True((real1 - s2.Num).abs().max().item<float>() < 1e-5 * (1 + s2.Num.abs().max().item<float>()));
        (y1 * y1).sum().backward();
        (y2 * y2).sum().backward();
        Assert.True((k1.grad! - k2.grad!).abs().max().item<float>() < 1e-6);
        Assert.True((w1.grad! - w2.grad!).abs().max().item<float>() < 1e-5);
    }
}
