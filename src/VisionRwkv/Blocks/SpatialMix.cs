using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Wkv;
using VisionRwkv.Runtime;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Blocks;

/// <summary>
/// Spatial Mix (the official <c>VRWKV_SpatialMix</c>, key prefix <c>att.</c>): Q-Shift token mixing, then
/// Bi-WKV over all tokens with per-channel decay and bonus divided by the runtime token count.
/// </summary>
public sealed class SpatialMix : nn.Module<Tensor, PatchGrid, Tensor>
{
    private readonly Parameter spatial_decay;   // [C] raw; w = spatial_decay / T, any sign ("flexible decay")
    private readonly Parameter spatial_first;   // [C] raw; u = spatial_first / T
    private readonly Parameter spatial_mix_k;   // [1,1,C]
    private readonly Parameter spatial_mix_v;   // [1,1,C]
    private readonly Parameter spatial_mix_r;   // [1,1,C]
    private readonly Linear key;
    private readonly Linear value;
    private readonly Linear receptance;
    private readonly LayerNorm? key_norm;
    private readonly Linear output;
    private readonly BlockConfig _cfg;

    public SpatialMix(BlockConfig cfg, int layerId) : base(nameof(SpatialMix))
    {
        _cfg = cfg;
        int c = cfg.EmbedDims;
        var init = FancyInit.Spatial(c, layerId, cfg.Depth);
        spatial_decay = new Parameter(init.Decay);
        spatial_first = new Parameter(init.First);
        spatial_mix_k = new Parameter(init.MixK);
        spatial_mix_v = new Parameter(init.MixV);
        spatial_mix_r = new Parameter(init.MixR);
        key = nn.Linear(c, c, hasBias: false);
        value = nn.Linear(c, c, hasBias: false);
        receptance = nn.Linear(c, c, hasBias: false);
        key_norm = cfg.KeyNorm ? nn.LayerNorm(c) : null;
        output = nn.Linear(c, c, hasBias: false);
        RegisterComponents();
    }

    /// <param name="x">[B,T,C]</param>
    /// <param name="grid">Token grid of x.</param>
    /// <returns>[B,T,C]</returns>
    public override Tensor forward(Tensor x, PatchGrid grid)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[1];
        // Q-Shift, then x·μ + xx·(1-μ) per mix, fused into one pass (QShift.Apply is the readable reference).
        var mixed = TokenShiftMix.Apply(x, grid, _cfg.ShiftPixel, _cfg.ChannelGamma, _cfg.Kernels,
            spatial_mix_k, spatial_mix_v, spatial_mix_r);                       // 3 × [B,T,C]
        var (xk, xv, xr) = (mixed[0], mixed[1], mixed[2]);
        // Handles are released as soon as a value is consumed: in inference that frees the memory at once (peak
        // memory at high resolution), while autograd keeps what backward needs through its own references.
        var k = Autocast.Linear(key, xk);
        var v = Autocast.Linear(value, xv);
        var r = Autocast.Linear(receptance, xr);
        Release(xk, xv, xr);
        var sr = r.sigmoid_();                                                   // in place: sigmoid's backward uses its output
        // An explicit, disposed Scalar rather than an implicit one that only the finalizer frees (see ScalarFree).
        using var tokens = ((double)t).ToScalar();
        var y = Wkv4.Bidirectional(k, v, spatial_decay.div(tokens), spatial_first.div(tokens), _cfg.WkvImplementation, _cfg.Wkv, _cfg.Kernels);   // [B,T,C]
        Release(k, v);
        if (key_norm is not null) y = key_norm.call(y);
        return Autocast.Linear(output, Gate(sr, y)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Bi-WKV inputs forward computes for x: k, v and the gate sigmoid(r), [B,T,C] each, and w, u [C] (already
    /// divided by T). For saliency (Explain/WkvAttribution), which reads the mixing weights they define.
    /// </summary>
    internal (Tensor K, Tensor V, Tensor Gate, Tensor W, Tensor U) WkvInputs(Tensor x, PatchGrid grid)
    {
        using var scope = NewDisposeScope();
        var mixed = TokenShiftMix.Apply(x, grid, _cfg.ShiftPixel, _cfg.ChannelGamma, _cfg.Kernels,
            spatial_mix_k, spatial_mix_v, spatial_mix_r);                       // 3 × [B,T,C]
        double t = x.shape[1];
        var result = (key.call(mixed[0]), value.call(mixed[1]), receptance.call(mixed[2]).sigmoid(),
            spatial_decay / t, spatial_first / t);
        result.Item1.MoveToOuterDisposeScope();
        result.Item2.MoveToOuterDisposeScope();
        result.Item3.MoveToOuterDisposeScope();
        result.Item4.MoveToOuterDisposeScope();
        result.Item5.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// gate·y. Untracked, the product overwrites gate's memory (one [B,T,C] tensor less at the inference peak);
    /// tracked, a new tensor, since sigmoid's backward reads its output.
    /// </summary>
    internal static Tensor Gate(Tensor gate, Tensor y) => Autograd.Tracks(gate, y) ? gate * y : gate.mul_(y);

    internal static void Release(params Tensor[] tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }
}
