// Port of RWKV_TimeMix, BlinkDL/RWKV-LM RWKV-v4neo/src/model.py @524481d (parallel), and its RNN form in
// ChatRWKV rwkv_pip_package/src/rwkv/model.py att_one (recurrent).
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// RWKV-4 time mix (key prefix <c>att.</c>): token shift, then r, k, v projections and the causal WKV with per-channel
/// decay w = exp(time_decay) and bonus u = time_first: <c>out = output(sigmoid(r) · wkv)</c>.
/// </summary>
public sealed class TimeMix : nn.Module<Tensor, Tensor>
{
    private readonly Parameter time_decay;      // [C] raw; per-step decay factor exp(-exp(time_decay))
    private readonly Parameter time_first;      // [C] raw bonus u of the current token
    private readonly Parameter time_mix_k;      // [1,1,C]
    private readonly Parameter time_mix_v;      // [1,1,C]
    private readonly Parameter time_mix_r;      // [1,1,C]
    private readonly Linear key;
    private readonly Linear value;
    private readonly Linear receptance;
    private readonly Linear output;
    private readonly WkvImplementation _wkv;

    public TimeMix(RwkvConfig cfg, int layerId) : base(nameof(TimeMix))
    {
        int c = cfg.NEmbd;
        _wkv = cfg.Wkv;
        // RWKV-v4neo init. ratio0To1: 0 at the first layer, 1 at the last; ratio1ToAlmost0: 1 at the first, 1/L at the last.
        double ratio0To1 = cfg.NLayer > 1 ? (double)layerId / (cfg.NLayer - 1) : 0;
        double ratio1ToAlmost0 = 1.0 - (double)layerId / cfg.NLayer;
        var ddd = arange(c, dtype: ScalarType.Float64) / c;                     // i/C in [0,1)
        var h = arange(c, dtype: ScalarType.Float64) / Math.Max(1, c - 1);       // 0..1 across channels
        // time_decay from -5 (w = e^-5: factor 0.993 per token, long memory) to 3 (w = e^3: forgets at once) across
        // channels; the exponent bends the curve towards longer memory in later layers.
        time_decay = new Parameter((-5 + 8 * h.pow(0.7 + 1.3 * ratio0To1)).to(ScalarType.Float32));
        var zigzag = tensor(Enumerable.Range(0, c).Select(i => ((i + 1) % 3 - 1) * 0.5).ToArray());
        time_first = new Parameter((full(c, Math.Log(0.3), ScalarType.Float64) + zigzag).to(ScalarType.Float32));
        time_mix_k = new Parameter(ddd.pow(ratio1ToAlmost0).view(1, 1, c).to(ScalarType.Float32));
        time_mix_v = new Parameter((ddd.pow(ratio1ToAlmost0) + 0.3 * ratio0To1).view(1, 1, c).to(ScalarType.Float32));
        time_mix_r = new Parameter(ddd.pow(0.5 * ratio1ToAlmost0).view(1, 1, c).to(ScalarType.Float32));
        key = nn.Linear(c, c, hasBias: false);
        value = nn.Linear(c, c, hasBias: false);
        receptance = nn.Linear(c, c, hasBias: false);
        output = nn.Linear(c, c, hasBias: false);
        RegisterComponents();
        using (no_grad())
        {
            // RWKV-v4neo generate_init_weight: key, receptance and output start at zero, value orthogonal.
            key.weight!.zero_();
            receptance.weight!.zero_();
            output.weight!.zero_();
            nn.init.orthogonal_(value.weight!);
        }
    }

    /// <summary>Parallel mode without a state: x = ln1 output [B,T,C] -> [B,T,C].</summary>
    public override Tensor forward(Tensor x) => Forward(x, null, null, wantState: false).Y;

    /// <summary>
    /// Parallel mode: x = ln1 output [B,T,C] after the previous token's ln1 output <paramref name="shift"/> [B,C]
    /// (zeros when null) and WKV state <paramref name="wkv"/>. Returns [B,T,C] and, when asked, the WKV state after the
    /// last token (its token-shift state is x[:, -1], which the block keeps).
    /// </summary>
    public (Tensor Y, Wkv4State? Wkv) Forward(Tensor x, Tensor? shift, Wkv4State? wkv, bool wantState = true)
    {
        using var scope = NewDisposeScope();
        var xx = TokenShift(x, shift);                                           // [B,T,C] previous token's x
        var k = key.call(lerp(xx, x, time_mix_k));                               // x·μ + xx·(1-μ)
        var v = value.call(lerp(xx, x, time_mix_v));
        var r = receptance.call(lerp(xx, x, time_mix_r)).sigmoid_();             // in place: sigmoid's backward reads its output
        // Without a wanted state (training from the empty state) the core skips making the final state differentiable.
        var (y, next) = Wkv4.Causal(k, v, time_decay.exp(), time_first, wkv, _wkv, differentiableState: wantState);   // [B,T,C]
        var outp = output.call(r * y).MoveToOuterDisposeScope();
        if (!wantState)
        {
            next.Dispose();
            return (outp, null);
        }
        return (outp, next.MoveToOuterDisposeScope());
    }

    /// <summary>Recurrent mode, one token: x = ln1 output [B,C], shift = previous ln1 output [B,C] -> [B,C] and the next WKV state.</summary>
    public (Tensor Y, Wkv4State Wkv) Step(Tensor x, Tensor shift, Wkv4State wkv)
    {
        using var scope = NewDisposeScope();
        long c = x.shape[1];
        var k = key.call(lerp(shift, x, time_mix_k.view(c)));                    // [B,C]
        var v = value.call(lerp(shift, x, time_mix_v.view(c)));
        var r = receptance.call(lerp(shift, x, time_mix_r.view(c))).sigmoid_();
        var (y, next) = Wkv4.Step(k, v, time_decay.exp(), time_first, wkv);     // [B,C]
        return (output.call(r * y).MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The previous token of every position: [B,T,C] -> [B,T,C], row t = x[t-1] and row 0 = <paramref name="shift"/>
    /// (zeros when null: the reference's ZeroPad2d((0,0,1,-1))).
    /// </summary>
    internal static Tensor TokenShift(Tensor x, Tensor? shift)
    {
        long b = x.shape[0], t = x.shape[1], c = x.shape[2];
        var first = shift is null ? zeros(b, 1, c, x.dtype, x.device) : shift.to(x.dtype).view(b, 1, c);
        return t == 1 ? first : cat([first, x.narrow(1, 0, t - 1)], 1);
    }
}
