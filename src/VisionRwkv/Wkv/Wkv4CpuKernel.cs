using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace VisionRwkv.Wkv;

/// <summary>
/// Fused CPU WKV-4 kernels over one "strip" of 8 channels (one <see cref="Vector256{T}"/>) of one batch row: the
/// pointers address element [t=0, first channel] and successive tokens are <c>stride</c> floats apart ([B,T,C]
/// layout). All scans keep log-stable states (a, b, p) with real sums (a, b)·e^p; every exp is of a value ≤ 0.
/// The backward is analytic (wkv-core.md §1.3) and needs only y and ℓ = ln(denominator) from the forward.
/// </summary>
internal static unsafe class Wkv4CpuKernel
{
    internal const int Lanes = 8;
    private const float Neg = Wkv4Reference.Neg;

    /// <summary>
    /// e^x for x ≤ ~0 (all our arguments are differences against a maximum): Cody–Waite reduction x = n·ln2 + r,
    /// a degree-6 polynomial for e^r on |r| ≤ ln2/2 (≈2 ulp, like Cephes expf), and 2^n built in the exponent bits.
    /// Arguments below -87 give exactly 0 (also -1e30); positive ones are clamped at 88 (not reached by the scans).
    /// Faster than <see cref="Vector256.Exp(Vector256{float})"/>, which widens to double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        var tiny = Vector256.LessThan(x, Vector256.Create(-87f));
        x = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(-87f)), Vector256.Create(88f));
        var n = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = x - n * Vector256.Create(0.693359375f);                  // ln2 split in two for an exact product
        r -= n * Vector256.Create(-2.12194440e-4f);
        var p = Vector256.Create(1.9875691500E-4f);
        p = p * r + Vector256.Create(1.3981999507E-3f);
        p = p * r + Vector256.Create(8.3334519073E-3f);
        p = p * r + Vector256.Create(4.1665795894E-2f);
        p = p * r + Vector256.Create(1.6666665459E-1f);
        p = p * r + Vector256.Create(5.0000001201E-1f);
        p = p * (r * r) + r + Vector256<float>.One;
        var scale = (Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23;
        var result = p * scale.AsSingle();
        return Vector256.AndNot(result, tiny.AsSingle());
    }

    /// <summary>
    /// ln x for positive normal x (here the WKV denominators, which are ≥ 1): x = m·2^e with m in [√½, √2), Cephes'
    /// degree-8 polynomial for ln(1+f) on f = m-1 (≈1-2 ulp, like Cephes logf), and e·ln2 added in two parts.
    /// <see cref="Vector256.Log(Vector256{float})"/> widens to double and cost most of the training forward.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Log(Vector256<float> x)
    {
        var bits = x.AsInt32();
        var e = ((bits >> 23) & Vector256.Create(0xFF)) - Vector256.Create(126);                     // x = m·2^e, m in [½, 1)
        var m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F000000)).AsSingle();
        var small = Vector256.LessThan(m, Vector256.Create(0.707106781186547524f));                  // move m to [√½, √2)
        e += small.AsInt32();                                                                    // true lanes are -1
        var f = m + (m & small) - Vector256<float>.One;
        var ef = Vector256.ConvertToSingle(e);
        var z = f * f;
        var y = Vector256.Create(7.0376836292E-2f);
        y = y * f + Vector256.Create(-1.1514610310E-1f);
        y = y * f + Vector256.Create(1.1676998740E-1f);
        y = y * f + Vector256.Create(-1.2420140846E-1f);
        y = y * f + Vector256.Create(1.4249322787E-1f);
        y = y * f + Vector256.Create(-1.6668057665E-1f);
        y = y * f + Vector256.Create(2.0000714765E-1f);
        y = y * f + Vector256.Create(-2.4999993993E-1f);
        y = y * f + Vector256.Create(3.3333331174E-1f);
        y = y * f * z;
        y += ef * Vector256.Create(-2.12194440e-4f);
        y -= Vector256.Create(0.5f) * z;
        return f + y + (ef * Vector256.Create(0.693359375f));
    }

    /// <summary>
    /// S ← e^{-w}·S + e^{x}·(val1, val2) for a scan state (s1, s2, p). Of the two factors e^{p-w-q} and e^{x-q}
    /// (q the new max) one is exactly 1, so one exp of -|difference| suffices. The state goes in and out by value:
    /// with ref parameters the JIT keeps the caller's state in stack memory (stores and reloads inside the scan loop).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> S1, Vector256<float> S2, Vector256<float> P) Push(Vector256<float> s1,
        Vector256<float> s2, Vector256<float> p, Vector256<float> w, Vector256<float> x, Vector256<float> val1,
        Vector256<float> val2)
    {
        var decayed = p - w;
        var d = decayed - x;
        var e = Exp(-Vector256.Abs(d));
        var oldWins = Vector256.GreaterThanOrEqual(d, Vector256<float>.Zero);
        var e1 = Vector256.ConditionalSelect(oldWins, Vector256<float>.One, e);
        var e2 = Vector256.ConditionalSelect(oldWins, e, Vector256<float>.One);
        return (e1 * s1 + e2 * val1, e1 * s2 + e2 * val2, Vector256.MaxNative(decayed, x));
    }

    /// <summary>
    /// <see cref="Push"/> that also carries (a', b') = -∂(a, b)/∂w in the same scale:
    /// S'_{n+1} = e^{-w}(S'_n + S_n), so that the distance weight of ∂/∂w needs no O(T²) sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> A, Vector256<float> B, Vector256<float> Ad, Vector256<float> Bd, Vector256<float> P)
        PushWithDerivative(Vector256<float> a, Vector256<float> b, Vector256<float> ad, Vector256<float> bd,
            Vector256<float> p, Vector256<float> w, Vector256<float> k, Vector256<float> v)
    {
        var decayed = p - w;
        var d = decayed - k;
        var e = Exp(-Vector256.Abs(d));
        var oldWins = Vector256.GreaterThanOrEqual(d, Vector256<float>.Zero);
        var e1 = Vector256.ConditionalSelect(oldWins, Vector256<float>.One, e);
        var e2 = Vector256.ConditionalSelect(oldWins, e, Vector256<float>.One);
        return (e1 * a + e2 * v, e1 * b + e2, e1 * (ad + a), e1 * (bd + b), Vector256.MaxNative(decayed, k));
    }

    /// <summary>
    /// Bidirectional forward. Pass 1 stores the exclusive prefix state of every token (a in y, b in
    /// <paramref name="scratch"/> (stride 8), p in <paramref name="lnD"/>, tokens <paramref name="lnDStride"/> floats
    /// apart); pass 2 runs the suffix scan backwards and combines:
    /// y_t = (aF e^{pF-m} + aR e^{pR-m} + v e^{u+k-m}) / (same with b, 1); lnD_t = m + ln(denominator) when
    /// <paramref name="storeLnD"/>. Inference passes strip scratch for lnD (stride 8) and no ln D is computed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BidirectionalForward(float* k, float* v, float* y, float* lnD, int lnDStride, float* scratch,
        int T, int stride, Vector256<float> w, Vector256<float> u, bool storeLnD = true)
    {
        var a = Vector256<float>.Zero;
        var b = Vector256<float>.Zero;
        var p = Vector256.Create(Neg);
        for (int t = 0; t < T; t++)
        {
            long o = (long)t * stride;
            a.Store(y + o);
            b.Store(scratch + (long)t * Lanes);
            p.Store(lnD + (long)t * lnDStride);
            (a, b, p) = Push(a, b, p, w, Vector256.Load(k + o), Vector256.Load(v + o), Vector256<float>.One);
        }
        a = Vector256<float>.Zero;
        b = Vector256<float>.Zero;
        p = Vector256.Create(Neg);
        for (int t = T - 1; t >= 0; t--)
        {
            long o = (long)t * stride;
            var kt = Vector256.Load(k + o);
            var vt = Vector256.Load(v + o);
            var aF = Vector256.Load(y + o);
            var bF = Vector256.Load(scratch + (long)t * Lanes);
            var pF = Vector256.Load(lnD + (long)t * lnDStride);
            var s = u + kt;
            var m = Vector256.MaxNative(Vector256.MaxNative(pF, p), s);
            var eF = Exp(pF - m);
            var eR = Exp(p - m);
            var eS = Exp(s - m);
            var num = eF * aF + eR * a + eS * vt;
            var den = eF * bF + eR * b + eS;                     // ≥ 1: the largest of the three parts has factor 1
            (num / den).Store(y + o);
            if (storeLnD)                                        // only backward reads ln D; inference skips the log
                (m + Log(den)).Store(lnD + (long)t * lnDStride);
            (a, b, p) = Push(a, b, p, w, kt, vt, Vector256<float>.One);
        }
    }

    /// <summary>
    /// Bidirectional backward from y, lnD and gy. With g_t = gy_t/D_t and α_{t,i} the weights:
    /// gv_i = Σ_t g_t α_{t,i}; gk_i = Σ_t g_t α_{t,i}(v_i - y_t); gu = Σ_t g_t α_{t,t}(v_t - y_t);
    /// gw = -Σ_t Σ_{i≠t} g_t α_{t,i}(v_i - y_t)(|t-i|-1). The sums over outputs t for a fixed input i are transposed
    /// scans with logits -ℓ_t; the sums over inputs i for a fixed output t re-run the primary scans with derivative
    /// states. gw and gu are accumulated per lane into <paramref name="gw"/> and <paramref name="gu"/>.
    /// </summary>
    public static void BidirectionalBackward(float* k, float* v, float* y, float* lnD, float* gy, float* gk, float* gv,
        int T, int stride, Vector256<float> w, Vector256<float> u, ref Vector256<float> gw, ref Vector256<float> gu)
    {
        // Two methods, not one loop body twice: each stays within the JIT's inlining budget, so the scan states
        // live in registers (one big method left helpers un-inlined and its ref-passed locals in memory, ~10x slower).
        gw += BackwardSweepForward(k, v, y, lnD, gy, gk, gv, T, stride, w);
        var (dw, du) = BackwardSweepReverse(k, v, y, lnD, gy, gk, gv, T, stride, w, u);
        gw += dw;
        gu += du;
    }

    /// <summary>Pass t = 0..T-1: pairs (output t, input i &lt; t) for gw; partial gv, gk from outputs before each input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> BackwardSweepForward(float* k, float* v, float* y, float* lnD, float* gy, float* gk,
        float* gv, int T, int stride, Vector256<float> w)
    {
        var zero = Vector256<float>.Zero;
        var neg = Vector256.Create(Neg);
        Vector256<float> a = zero, b = zero, ad = zero, bd = zero, p = neg;   // inputs before t, for output t
        Vector256<float> h1 = zero, h2 = zero, ph = neg;                    // outputs before i, for input i
        var gw = zero;
        for (int t = 0; t < T; t++)
        {
            long o = (long)t * stride;
            var kt = Vector256.Load(k + o);
            var vt = Vector256.Load(v + o);
            var yt = Vector256.Load(y + o);
            var lt = Vector256.Load(lnD + o);
            var gt = Vector256.Load(gy + o);
            gw -= gt * Exp(p - lt) * (ad - yt * bd);
            var eh = Exp(kt + ph);
            (eh * h1).Store(gv + o);                                        // partial Σ g α over earlier outputs
            (eh * h2).Store(gk + o);                                        // partial Σ g α y over earlier outputs
            (a, b, ad, bd, p) = PushWithDerivative(a, b, ad, bd, p, w, kt, vt);
            (h1, h2, ph) = Push(h1, h2, ph, w, -lt, gt, gt * yt);
        }
        return gw;
    }

    /// <summary>Pass t = T-1..0: pairs (output t, input i &gt; t) for gw, the rest of gv, gk, and the diagonal terms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (Vector256<float> Gw, Vector256<float> Gu) BackwardSweepReverse(float* k, float* v, float* y,
        float* lnD, float* gy, float* gk, float* gv, int T, int stride, Vector256<float> w, Vector256<float> u)
    {
        var zero = Vector256<float>.Zero;
        var neg = Vector256.Create(Neg);
        Vector256<float> a = zero, b = zero, ad = zero, bd = zero, p = neg;
        Vector256<float> h1 = zero, h2 = zero, ph = neg;
        Vector256<float> gw = zero, gu = zero;
        for (int t = T - 1; t >= 0; t--)
        {
            long o = (long)t * stride;
            var kt = Vector256.Load(k + o);
            var vt = Vector256.Load(v + o);
            var yt = Vector256.Load(y + o);
            var lt = Vector256.Load(lnD + o);
            var gt = Vector256.Load(gy + o);
            gw -= gt * Exp(p - lt) * (ad - yt * bd);
            var eh = Exp(kt + ph);
            var gvOff = Vector256.Load(gv + o) + eh * h1;
            var gyOff = Vector256.Load(gk + o) + eh * h2;
            var gd = gt * Exp(u + kt - lt);                                 // g_t α_{t,t}
            var dv = vt - yt;
            gu += gd * dv;
            (gvOff + gd).Store(gv + o);
            (vt * gvOff - gyOff + gd * dv).Store(gk + o);
            (a, b, ad, bd, p) = PushWithDerivative(a, b, ad, bd, p, w, kt, vt);
            (h1, h2, ph) = Push(h1, h2, ph, w, -lt, gt, gt * yt);
        }
        return (gw, gu);
    }

    /// <summary>
    /// Causal forward from the state (a, b, p) (updated in place to the state after the last token):
    /// y_t = (a e^{p-m} + v e^{u+k-m}) / (b e^{p-m} + e^{u+k-m}); lnD_t = m + ln(denominator) when lnD is not null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CausalForward(float* k, float* v, float* y, float* lnD, int T, int stride, Vector256<float> w,
        Vector256<float> u, ref Vector256<float> a0, ref Vector256<float> b0, ref Vector256<float> p0)
    {
        var (a, b, p) = (a0, b0, p0);                                        // in registers for the loop (see Push)
        for (int t = 0; t < T; t++)
        {
            long o = (long)t * stride;
            var kt = Vector256.Load(k + o);
            var vt = Vector256.Load(v + o);
            var s = u + kt;
            var d = p - s;
            var e = Exp(-Vector256.Abs(d));
            var stateWins = Vector256.GreaterThanOrEqual(d, Vector256<float>.Zero);
            var e1 = Vector256.ConditionalSelect(stateWins, Vector256<float>.One, e);
            var e2 = Vector256.ConditionalSelect(stateWins, e, Vector256<float>.One);
            var den = e1 * b + e2;
            ((e1 * a + e2 * vt) / den).Store(y + o);
            if (lnD != null)
                (Vector256.MaxNative(p, s) + Log(den)).Store(lnD + o);
            (a, b, p) = Push(a, b, p, w, kt, vt, Vector256<float>.One);
        }
        (a0, b0, p0) = (a, b, p);
    }

    /// <summary>
    /// Causal backward (the initial state enters as a constant): forward pass re-runs the prefix scan from the initial
    /// state with derivative states for gw and does the diagonal terms; backward pass is the transposed scan over later
    /// outputs for gk, gv.
    /// </summary>
    public static void CausalBackward(float* k, float* v, float* y, float* lnD, float* gy, float* gk, float* gv, int T,
        int stride, Vector256<float> w, Vector256<float> u, Vector256<float> a0, Vector256<float> b0,
        Vector256<float> p0, ref Vector256<float> gw, ref Vector256<float> gu)
    {
        var (dw, du) = CausalSweepForward(k, v, y, lnD, gy, gk, gv, T, stride, w, u, a0, b0, p0);
        gw += dw;
        gu += du;
        CausalSweepReverse(k, v, y, lnD, gy, gk, gv, T, stride, w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (Vector256<float> Gw, Vector256<float> Gu) CausalSweepForward(float* k, float* v, float* y,
        float* lnD, float* gy, float* gk, float* gv, int T, int stride, Vector256<float> w, Vector256<float> u,
        Vector256<float> a0, Vector256<float> b0, Vector256<float> p0)
    {
        var zero = Vector256<float>.Zero;
        Vector256<float> a = a0, b = b0, ad = zero, bd = zero, p = p0, gw = zero, gu = zero;
        for (int t = 0; t < T; t++)
        {
            long o = (long)t * stride;
            var kt = Vector256.Load(k + o);
            var vt = Vector256.Load(v + o);
            var yt = Vector256.Load(y + o);
            var lt = Vector256.Load(lnD + o);
            var gt = Vector256.Load(gy + o);
            gw -= gt * Exp(p - lt) * (ad - yt * bd);
            var gd = gt * Exp(u + kt - lt);
            var dv = vt - yt;
            gu += gd * dv;
            gd.Store(gv + o);
            (gd * dv).Store(gk + o);
            (a, b, ad, bd, p) = PushWithDerivative(a, b, ad, bd, p, w, kt, vt);
        }
        return (gw, gu);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CausalSweepReverse(float* k, float* v, float* y, float* lnD, float* gy, float* gk, float* gv,
        int T, int stride, Vector256<float> w)
    {
        var zero = Vector256<float>.Zero;
        Vector256<float> h1 = zero, h2 = zero, ph = Vector256.Create(Neg);
        for (int t = T - 1; t >= 0; t--)
        {
            long o = (long)t * stride;
            var kt = Vector256.Load(k + o);
            var vt = Vector256.Load(v + o);
            var yt = Vector256.Load(y + o);
            var lt = Vector256.Load(lnD + o);
            var gt = Vector256.Load(gy + o);
            var eh = Exp(kt + ph);
            var gvOff = eh * h1;
            (Vector256.Load(gv + o) + gvOff).Store(gv + o);
            (Vector256.Load(gk + o) + vt * gvOff - eh * h2).Store(gk + o);
            (h1, h2, ph) = Push(h1, h2, ph, w, -lt, gt, gt * yt);
        }
    }
}
