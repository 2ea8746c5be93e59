using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Layers;

public class SquaredReluTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]                 // shorter than one vector: the scalar tail only
    [InlineData(1000)]              // vectors plus a tail
    [InlineData(3 * 65536 + 5)]     // several parallel chunks
    public void Fused_relu_squared_matches_relu_then_square_in_values_and_gradients(int n)
    {
        using var scope = NewDisposeScope();
        manual_seed(n);
        var x = (randn(n) * 3).requires_grad_(true);
        x.detach()[0].fill_(0);                              // relu's kink: both give gradient 0 there
        var g = randn(n);
        var fused = SquaredRelu.Apply(x);
        var gFused = autograd.grad([fused], [x], [g])[0];
        var reference = SquaredRelu.Reference(x);
        var gReference = autograd.grad([reference], [x], [g])[0];
        Assert.True(fused.allclose(reference, rtol: 1e-6, atol: 0), "forward differs");
        Assert.True(gFused.allclose(gReference, rtol: 1e-6, atol: 1e-7), "gradient differs");
        Assert.Equal(0f, gFused[0].item<float>());
    }

    [Fact]
    public void A_non_contiguous_input_gets_the_gradient_in_its_own_layout()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(16, 24).requires_grad_(true);
        var y = SquaredRelu.Apply(x.t());                   // [24,16] view
        y.sum().backward();
        Assert.True(x.grad!.allclose(2 * x.detach().relu()), "gradient of Σ relu(x)² is 2·relu(x)");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]        // the fused kernel
    [InlineData(ScalarType.Float64)]        // the tensor ops
    public void Overwriting_the_input_gives_the_same_values_and_survives_disposing_the_input(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x0 = randn(3, 1000, dtype: dtype) * 3;
        var expected = SquaredRelu.Reference(x0);
        var x = x0.clone();
        Tensor y;
        using (no_grad())
            y = SquaredRelu.Apply(x, overwriteInput: true);
        x.Dispose();                                        // what ChannelMix does with the hidden pre-activation
        Assert.True(y.allclose(expected, rtol: 1e-6, atol: 0));
    }

    [Fact]
    public void Overwriting_is_ignored_while_autograd_needs_the_input()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var x = randn(100).requires_grad_(true);
        var before = x.detach().clone();
        var y = SquaredRelu.Apply(x, overwriteInput: true);
        y.sum().backward();
        Assert.True(x.detach().allclose(before, rtol: 0, atol: 0), "the input was overwritten");
        Assert.True(x.grad!.allclose(2 * before.relu()));
    }

    [Fact]
    public void Double_input_takes_the_reference_path()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new double[] { -1, 0.5, 2 }).requires_grad_(true);
        SquaredRelu.Apply(x).sum().backward();
        Assert.Equal(new double[] { 0, 1, 4 }, x.grad!.data<double>().ToArray());
    }
}
