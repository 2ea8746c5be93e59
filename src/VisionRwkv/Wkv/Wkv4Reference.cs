using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv;

/// <summary>
/// Reference WKV-4: the log-stable serial scan of RWKV-4's <c>wkv_cuda.cu</c> (wkv-core.md §1.2, §4.3) written with
/// TorchSharp ops on [B,C] slices, one token at a time. Slow (O(T) small ops) but it reads like the formula and autograd
/// differentiates it exactly. Computes in the dtype it is given (float32 from <see cref="Wkv4"/>, float64 in tests).
/// </summary>
internal static class Wkv4Reference
{
    /// <summary>Finite "minus infinity" for empty maxima: NEG − NEG stays finite, so no NaN reaches a gradient.</summary>
    internal const float Neg = -1e30f;

    /// <summary>
    /// A scan state (a, b, p): the real sums are (a·e^p, b·e^p) over the tokens pushed so far, each decayed by e^{-w}
    /// per later push, i.e. Σ_i e^{k_i-(n-1-i)w}(v_i, 1) after n pushes.
    /// </summary>
    internal readonly record struct ScanState(Tensor A, Tensor B, Tensor P);

    /// <summary>Pushes one token: S ← e^{-w}·S + e^{k}(v, 1), with every exp of a difference against the new max.</summary>
    internal static ScanState Push(ScanState s, Tensor k, Tensor v, Tensor w)
    {
        var decayed = s.P - w;                  // [B,C] log-scale of the old sums after one more step of decay
        var q = maximum(decayed, k);
        var e1 = exp(decayed - q);
        var e2 = exp(k - q);
        return new ScanState(e1 * s.A + e2 * v, e1 * s.B + e2, q);
    }

    /// <summary>Combines log-scaled partial sums with the token's own term e^{u+k}(v, 1): returns Σ num / Σ den.</summary>
    internal static Tensor Combine(Tensor selfLogit, Tensor v, params ScanState[] parts)
    {
        var m = selfLogit;
        foreach (var s in parts)
            m = maximum(m, s.P);
        var eSelf = exp(selfLogit - m);
        var num = eSelf * v;
        var den = eSelf;
        foreach (var s in parts)
        {
            var e = exp(s.P - m);
            num = num + e * s.A;
            den = den + e * s.B;
        }
        return num / den;
    }

    internal static ScanState Empty(long batch, long channels, ScalarType dtype, Device device) =>
        new(zeros(batch, channels, dtype, device), zeros(batch, channels, dtype, device),
            full(batch, channels, Neg, dtype, device));

    /// <summary>
    /// Causal: y_t = (Σ_{i&lt;t} e^{-(t-1-i)w+k_i} v_i + e^{u+k_t} v_t) / (same with v = 1), continuing from
    /// <paramref name="state"/>. k, v: [B,T,C]; w, u: [C]. Returns y [B,T,C] and the state after the last token.
    /// </summary>
    public static (Tensor Y, ScanState Final) Causal(Tensor k, Tensor v, Tensor w, Tensor u, ScanState state)
    {
        long T = k.shape[1];
        var ys = new Tensor[T];
        for (long t = 0; t < T; t++)
        {
            var kt = k[.., (int)t];             // [B,C]
            var vt = v[.., (int)t];
            ys[t] = Combine(u + kt, vt, state);
            state = Push(state, kt, vt, w);
        }
        return (stack(ys, 1), state);
    }

    /// <summary>
    /// Bidirectional: y_t = (Σ_{i≠t} e^{-(|t-i|-1)w+k_i} v_i + e^{u+k_t} v_t) / (same with v = 1), as a forward
    /// exclusive scan (tokens before t), a backward exclusive scan (tokens after t) and the token's own term.
    /// </summary>
    public static Tensor Bidirectional(Tensor k, Tensor v, Tensor w, Tensor u)
    {
        long B = k.shape[0], T = k.shape[1], C = k.shape[2];
        var before = new ScanState[T];
        var s = Empty(B, C, k.dtype, k.device);
        for (long t = 0; t < T; t++)
        {
            before[t] = s;
            s = Push(s, k[.., (int)t], v[.., (int)t], w);
        }
        var ys = new Tensor[T];
        s = Empty(B, C, k.dtype, k.device);
        for (long t = T - 1; t >= 0; t--)
        {
            var kt = k[.., (int)t];
            var vt = v[.., (int)t];
            ys[t] = Combine(u + kt, vt, before[t], s);
            s = Push(s, kt, vt, w);
        }
        return stack(ys, 1);
    }
}
