// TEMPORARY until the WKV core lands from its branch: O(T^2) softmax form of the Bi-WKV formula.
using static TorchSharp.torch;

namespace VisionRwkv.Wkv;

public enum WkvCompat { Exact, OfficialOldKernel }
public enum WkvImplementation { Auto, Reference, Fast }

public static class Wkv4
{
    public static Tensor Bidirectional(Tensor k, Tensor v, Tensor w, Tensor u,
        WkvImplementation impl = WkvImplementation.Auto, WkvCompat compat = WkvCompat.Exact)
    {
        using var scope = NewDisposeScope();
        long t = k.shape[1];
        var kf = k.to(ScalarType.Float32); var vf = v.to(ScalarType.Float32);
        var idx = arange(t, dtype: ScalarType.Float32);
        var dist = (idx.unsqueeze(1) - idx.unsqueeze(0)).abs() - 1;              // [T,T]
        var eye1 = eye(t, dtype: ScalarType.Bool);
        var s = -dist.unsqueeze(-1) * w.view(1, 1, -1);                          // [T,T,C]
        s = where(eye1.unsqueeze(-1), u.view(1, 1, -1).expand(t, t, -1), s);
        var logits = s.unsqueeze(0) + kf.unsqueeze(1);                           // [B,T(t),T(i),C]
        var p = logits.softmax(2);
        var y = (p * vf.unsqueeze(1)).sum(2);
        return y.to(k.dtype).MoveToOuterDisposeScope();
    }
}
