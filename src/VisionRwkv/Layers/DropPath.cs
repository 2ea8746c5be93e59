using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Layers;

/// <summary>Stochastic depth per sample: drops a residual branch with probability p and scales survivors by 1/(1-p).</summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    private readonly double _p;

    public DropPath(double p) : base(nameof(DropPath))
    {
        _p = p;
    }

    public override Tensor forward(Tensor x)
    {
        if (!training || _p <= 0) return x.alias();
        using var scope = NewDisposeScope();
        double keep = 1 - _p;
        var shape = new long[x.dim()];
        shape[0] = x.shape[0];
        for (int i = 1; i < shape.Length; i++) shape[i] = 1;
        var mask = empty(shape, dtype: x.dtype, device: x.device).bernoulli_(keep).div_(keep);  // [B,1,1]
        return (x * mask).MoveToOuterDisposeScope();
    }
}
