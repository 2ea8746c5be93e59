using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Tests;

public class TorchSharpSmokeTests
{
    [Fact]
    public void TorchSharp_loads_and_multiplies_matrices()
    {
        // [[1,2],[3,4]] @ [[5,6],[7,8]] = [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]] = [[19,22],[43,50]], by hand.
        using var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        using var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        using var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }

    [Fact]
    public void Autograd_gives_the_derivative_of_a_square()
    {
        using var x = tensor(3.0f, requires_grad: true);
        using var y = x * x;
        y.backward();
        Assert.Equal(6.0f, x.grad!.item<float>());
    }
}
