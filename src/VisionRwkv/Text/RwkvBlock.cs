// Port of Block, BlinkDL/RWKV-LM RWKV-v4neo/src/model.py @524481d.
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// One RWKV-4 block (key prefix <c>blocks.{i}.</c>), pre-norm: <c>x += att(ln1(x)); x += ffn(ln2(x))</c>. Block 0 first
/// normalises the embeddings with <c>ln0</c> (the key exists in block 0 only).
/// </summary>
public sealed class RwkvBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln1;
    private readonly LayerNorm ln2;
    private readonly LayerNorm? ln0;
    private readonly TimeMix att;
    private readonly ChannelMix ffn;

    public RwkvBlock(RwkvConfig cfg, int layerId) : base(nameof(RwkvBlock))
    {
        ln1 = nn.LayerNorm(cfg.NEmbd);
        ln2 = nn.LayerNorm(cfg.NEmbd);
        ln0 = layerId == 0 ? nn.LayerNorm(cfg.NEmbd) : null;
        att = new TimeMix(cfg, layerId);
        ffn = new ChannelMix(cfg, layerId);
        RegisterComponents();
    }

    /// <summary>Parallel mode from the empty state: [B,T,C] -> [B,T,C].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (ln0 is not null) x = ln0.call(x);
        x = x.Plus(att.call(ln1.call(x)));
        x = x.Plus(ffn.call(ln2.call(x)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Parallel mode continuing from <paramref name="state"/> (the empty state when null): [B,T,C] -> [B,T,C] and the
    /// block's state after the last token.
    /// </summary>
    public (Tensor X, RwkvLayerState State) Forward(Tensor x, RwkvLayerState? state)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[1];
        if (ln0 is not null) x = ln0.call(x);
        var a = ln1.call(x);                                                     // [B,T,C]
        var (y, wkv) = att.Forward(a, state?.AttShift, state?.Wkv);
        x = x.Plus(y);
        var f = ln2.call(x);
        x = x.Plus(ffn.Forward(f, state?.FfnShift));
        // The shifts carry the normalised inputs of the last token, as ChatRWKV's att_xx / ffn_xx.
        var next = new RwkvLayerState(a.select(1, t - 1).clone(), wkv!, f.select(1, t - 1).clone());
        return (x.MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }

    /// <summary>Recurrent mode, one token: x [B,C] -> [B,C] and the block's next state.</summary>
    public (Tensor X, RwkvLayerState State) Step(Tensor x, RwkvLayerState state)
    {
        using var scope = NewDisposeScope();
        if (ln0 is not null) x = ln0.call(x);
        var a = ln1.call(x);                                                     // [B,C]
        var (y, wkv) = att.Step(a, state.AttShift, state.Wkv);
        x = x.Plus(y);
        var f = ln2.call(x);
        x = x.Plus(ffn.Step(f, state.FfnShift));
        var next = new RwkvLayerState(a, wkv, f);
        return (x.MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }
}
