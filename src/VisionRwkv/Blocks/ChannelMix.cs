using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Layers;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Blocks;

/// <summary>
/// Channel Mix (the official <c>VRWKV_ChannelMix</c>, key prefix <c>ffn.</c>): Q-Shift, then a squared-ReLU MLP gated
/// by sigmoid(receptance).
/// </summary>
public sealed class ChannelMix : nn.Module<Tensor, PatchGrid, Tensor>
{
    private readonly Parameter spatial_mix_k;   // [1,1,C]
    private readonly Parameter spatial_mix_r;   // [1,1,C]
    private readonly Linear key;                // C -> hidden
    private readonly LayerNorm? key_norm;       // hidden (VRWKV-L)
    private readonly Linear receptance;         // C -> C
    private readonly Linear value;              // hidden -> C
    private readonly BlockConfig _cfg;

    public ChannelMix(BlockConfig cfg, int layerId) : base(nameof(ChannelMix))
    {
        _cfg = cfg;
        int c = cfg.EmbedDims, hidden = cfg.HiddenDims;
        var init = FancyInit.Channel(c, layerId, cfg.Depth);
        spatial_mix_k = new Parameter(init.MixK);
        spatial_mix_r = new Parameter(init.MixR);
        key = nn.Linear(c, hidden, hasBias: false);
        key_norm = cfg.KeyNorm ? nn.LayerNorm(hidden) : null;
        receptance = nn.Linear(c, c, hasBias: false);
        value = nn.Linear(hidden, c, hasBias: false);
        RegisterComponents();
    }

    /// <param name="x">[B,T,C]</param>
    /// <param name="grid">Token grid of x.</param>
    /// <returns>[B,T,C]</returns>
    public override Tensor forward(Tensor x, PatchGrid grid)
    {
        using var scope = NewDisposeScope();
        // Q-Shift, then x·μ + xx·(1-μ) per mix, fused into one pass (QShift.Apply is the readable reference).
        var mixed = TokenShiftMix.Apply(x, grid, _cfg.ShiftPixel, _cfg.ChannelGamma, _cfg.Kernels, spatial_mix_k, spatial_mix_r);
        var (xk, xr) = (mixed[0], mixed[1]);
        // Under autocast the hidden activations stay in its dtype: they only feed the value product.
        var pre = Autocast.Linear(key, xk, keep: key_norm is null);                      // [B,T,hidden]
        SpatialMix.Release(xk);
        var k = SquaredRelu.Apply(pre, overwriteInput: true);                  // relu(pre)², fused on CPU
        SpatialMix.Release(pre);
        if (key_norm is not null) k = key_norm.call(k);
        var kv = Autocast.Linear(value, k);                                                // [B,T,C]
        SpatialMix.Release(k);
        var r = Autocast.Linear(receptance, xr);
        SpatialMix.Release(xr);
        return SpatialMix.Gate(r.sigmoid_(), kv).MoveToOuterDisposeScope();
    }
}
