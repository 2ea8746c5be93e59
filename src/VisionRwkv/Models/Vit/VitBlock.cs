using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Models.Vit;

/// <summary>Pre-norm transformer block (timm keys blocks.{i}.norm1/attn/norm2/mlp).</summary>
public sealed class VitBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly Attention attn;
    private readonly LayerNorm norm2;
    private readonly Mlp mlp;
    private readonly DropPath drop_path;

    public VitBlock(int dim, int heads, double mlpRatio, double dropPath) : base(nameof(VitBlock))
    {
        norm1 = nn.LayerNorm(dim, eps: 1e-6);
        attn = new Attention(dim, heads);
        norm2 = nn.LayerNorm(dim, eps: 1e-6);
        mlp = new Mlp(dim, (int)(dim * mlpRatio));
        drop_path = new DropPath(dropPath);
        RegisterComponents();
    }

    /// <param name="x">[B,N,C]</param>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(drop_path.call(attn.call(norm1.call(x))));
        x = x.Plus(drop_path.call(mlp.call(norm2.call(x))));
        return x.MoveToOuterDisposeScope();
    }
}
