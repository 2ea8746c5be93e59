using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Blocks;

/// <summary>
/// One Vision-RWKV block (key prefix <c>layers.{i}.</c>). Pre-norm (VRWKV-T): x += γ1·att(ln1(x)); x += γ2·ffn(ln2(x)).
/// Res-post-norm (S/B/L): x += γ1·ln1(att(x)); x += γ2·ln2(ffn(x)). Layer 0 first normalises its input with ln0.
/// </summary>
public sealed class Block : nn.Module<Tensor, PatchGrid, Tensor>
{
    private readonly Parameter? gamma1;     // [C], only with layer scale
    private readonly Parameter? gamma2;     // [C]
    private readonly LayerNorm ln1;
    private readonly LayerNorm ln2;
    private readonly LayerNorm? ln0;        // layer 0 only: the official key layers.0.ln0
    private readonly SpatialMix att;
    private readonly ChannelMix ffn;
    private readonly DropPath drop_path;
    private readonly bool _postNorm;

    public Block(BlockConfig cfg, int layerId, double dropPath) : base(nameof(Block))
    {
        int c = cfg.EmbedDims;
        _postNorm = cfg.PostNorm;
        if (cfg.InitValues is float g)
        {
            gamma1 = new Parameter(full(c, g));
            gamma2 = new Parameter(full(c, g));
        }
        ln1 = nn.LayerNorm(c);
        ln2 = nn.LayerNorm(c);
        ln0 = layerId == 0 ? nn.LayerNorm(c) : null;
        att = new SpatialMix(cfg, layerId);
        ffn = new ChannelMix(cfg, layerId);
        drop_path = new DropPath(dropPath);
        RegisterComponents();
    }

    /// <param name="x">[B,N,C]</param>
    /// <param name="grid">Token grid of x.</param>
    /// <returns>[B,N,C]</returns>
    public override Tensor forward(Tensor x, PatchGrid grid)
    {
        using var scope = NewDisposeScope();
        if (ln0 is not null) x = ln0.call(x);
        Tensor a, f;
        if (_postNorm)
        {
            a = ln1.call(att.call(x, grid));
            x = x.Plus(drop_path.call(gamma1 is null ? a : gamma1 * a));
            f = ln2.call(ffn.call(x, grid));
            x = x.Plus(drop_path.call(gamma2 is null ? f : gamma2 * f));
        }
        else
        {
            // Normalised inputs and branch outputs are released once consumed: in inference that frees their memory
            // before the next allocation (autograd keeps what backward needs through its own references).
            var n1 = ln1.call(x);
            a = att.call(n1, grid);
            SpatialMix.Release(n1);
            var x1 = x.Plus(drop_path.call(gamma1 is null ? a : gamma1 * a));
            SpatialMix.Release(a);
            var n2 = ln2.call(x1);
            f = ffn.call(n2, grid);
            SpatialMix.Release(n2);
            x = x1.Plus(drop_path.call(gamma2 is null ? f : gamma2 * f));
            SpatialMix.Release(x1, f);
        }
        return x.MoveToOuterDisposeScope();
    }
}
