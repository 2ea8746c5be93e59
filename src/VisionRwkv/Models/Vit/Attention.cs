using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Models.Vit;

/// <summary>Multi-head self-attention on TorchSharp's fused scaled_dot_product_attention, as timm uses it.</summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly int _heads;

    public Attention(int dim, int heads) : base(nameof(Attention))
    {
        _heads = heads;
        qkv = nn.Linear(dim, dim * 3);
        proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    /// <param name="x">[B,N,C]</param>
    /// <returns>[B,N,C]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        var parts = qkv.call(x).view(b, n, 3, _heads, c / _heads).permute(2, 0, 3, 1, 4);   // [3,B,H,N,D]
        var y = nn.functional.scaled_dot_product_attention(parts[0], parts[1], parts[2]);    // [B,H,N,D]
        y = y.transpose(1, 2).reshape(b, n, c);                                               // [B,N,C]
        return proj.call(y).MoveToOuterDisposeScope();
    }
}
