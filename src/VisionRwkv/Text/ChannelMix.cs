// Port of RWKV_ChannelMix, BlinkDL/RWKV-LM RWKV-v4neo/src/model.py @524481d (parallel), and ChatRWKV ffn_one (recurrent).
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// RWKV-4 channel mix (key prefix <c>ffn.</c>): token shift, then <c>sigmoid(receptance(xr)) · value(relu(key(xk))²)</c>.
/// </summary>
public sealed class ChannelMix : nn.Module<Tensor, Tensor>
{
    private readonly Parameter time_mix_k;      // [1,1,C]
    private readonly Parameter time_mix_r;      // [1,1,C]
    private readonly Linear key;                // C -> dim_ffn
    private readonly Linear receptance;         // C -> C
    private readonly Linear value;              // dim_ffn -> C

    public ChannelMix(RwkvConfig cfg, int layerId) : base(nameof(ChannelMix))
    {
        int c = cfg.NEmbd;
        double ratio1ToAlmost0 = 1.0 - (double)layerId / cfg.NLayer;           // 1 at the first layer, 1/L at the last
        var ddd = arange(c, dtype: ScalarType.Float64) / c;
        time_mix_k = new Parameter(ddd.pow(ratio1ToAlmost0).view(1, 1, c).to(ScalarType.Float32));
        time_mix_r = new Parameter(ddd.pow(ratio1ToAlmost0).view(1, 1, c).to(ScalarType.Float32));
        key = nn.Linear(c, cfg.DimFfn, hasBias: false);
        receptance = nn.Linear(c, c, hasBias: false);
        value = nn.Linear(cfg.DimFfn, c, hasBias: false);
        RegisterComponents();
        using (no_grad())
        {
            // RWKV-v4neo generate_init_weight: receptance and value start at zero, key orthogonal (gain √(F/C) when wider).
            receptance.weight!.zero_();
            value.weight!.zero_();
            nn.init.orthogonal_(key.weight!, gain: Math.Sqrt(Math.Max(1.0, (double)cfg.DimFfn / c)));
        }
    }

    /// <summary>Parallel mode without a state: x = ln2 output [B,T,C] -> [B,T,C].</summary>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>Parallel mode: x = ln2 output [B,T,C] after the previous token's ln2 output <paramref name="shift"/> [B,C] (zeros when null).</summary>
    public Tensor Forward(Tensor x, Tensor? shift)
    {
        using var scope = NewDisposeScope();
        var xx = TimeMix.TokenShift(x, shift);                                   // [B,T,C]
        return Mix(x, xx, time_mix_k, time_mix_r).MoveToOuterDisposeScope();
    }

    /// <summary>Recurrent mode, one token: x = ln2 output [B,C], shift = previous ln2 output [B,C] -> [B,C].</summary>
    public Tensor Step(Tensor x, Tensor shift)
    {
        using var scope = NewDisposeScope();
        long c = x.shape[1];
        return Mix(x, shift, time_mix_k.view(c), time_mix_r.view(c)).MoveToOuterDisposeScope();
    }

    private Tensor Mix(Tensor x, Tensor xx, Tensor mixK, Tensor mixR)
    {
        var pre = key.call(lerp(xx, x, mixK));                                   // [..,dim_ffn]
        var k = SquaredRelu.Apply(pre, overwriteInput: true);                    // relu(pre)², fused on CPU
        var kv = value.call(k);                                                  // [..,C]
        var r = receptance.call(lerp(xx, x, mixR)).sigmoid_();
        return r * kv;
    }
}
