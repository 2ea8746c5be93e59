using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Models;

/// <summary>
/// mmcls init_cfg of the official classifiers: every Linear TruncNormal(std 0.02, bias 0), every LayerNorm weight 1 and
/// bias 0. Conv stems keep PyTorch's default; RWKV parameters keep their fancy init; pos_embed stays zero.
/// </summary>
public static class Initialization
{
    public static void ApplyOfficial(nn.Module root)
    {
        using var noGrad = no_grad();
        foreach (var (_, module) in root.named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    TruncNormal(linear.weight, std: 0.02);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case LayerNorm norm:
                    if (norm.weight is not null) nn.init.ones_(norm.weight);
                    if (norm.bias is not null) nn.init.zeros_(norm.bias);
                    break;
            }
        }
    }

    /// <summary>
    /// Normal(mean, std) truncated to [a, b] (absolute bounds, as PyTorch's trunc_normal_), by resampling the values that
    /// fall outside. TorchSharp 0.107's own trunc_normal_ is not used: here it returned NaN and clamped to ±std.
    /// </summary>
    public static Tensor TruncNormal(Tensor t, double mean = 0, double std = 1, double a = -2, double b = 2)
    {
        using var noGrad = no_grad();
        if (t.device_type == DeviceType.META) return t;   // shapes only: nothing to sample
        using var scope = NewDisposeScope();
        t.normal_(mean, std);
        for (int i = 0; i < 100; i++)
        {
            var outside = t.lt(a).logical_or_(t.gt(b));
            if (!outside.any().item<bool>()) return t;
            var fresh = empty_like(t).normal_(mean, std);
            t.copy_(where(outside, fresh, t));
        }
        t.clamp_(a, b);   // only reachable for bounds far inside the distribution; keep the result in range
        return t;
    }
}
