using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv;

/// <summary>
/// Chunked WKV-4 in plain tensor ops (wkv-core.md §4.4): tokens inside a chunk of L mix through an explicit
/// [B,N,L,L,C] logit table, chunks through a serial scan of N = ceil(T/L) steps. Exact, autograd-friendly, runs on any
/// device; the fast path on non-CPU devices. Cost O(B·T·L·C); autograd keeps a few B·T·L·C tensors.
/// </summary>
internal sealed class Wkv4Chunked
{
    private const float Neg = Wkv4Reference.Neg;

    public Wkv4Chunked(int chunk = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        Chunk = chunk;
    }

    public int Chunk { get; }

    /// <summary>Causal WKV continuing from <paramref name="state"/>; returns y [B,T,C] and the final state.</summary>
    public (Tensor Y, Wkv4Reference.ScanState Final) Causal(Tensor k, Tensor v, Tensor w, Tensor u,
        Wkv4Reference.ScanState state)
    {
        var p = Prepare(k, v, w, u, Chunk, causal: true);
        var (starts, final) = ChunkScan(p.Kc, p.Vc, w, Chunk, state);
        var sf = starts.P.unsqueeze(2) - p.Tloc * w;                 // [B,N,L,C] prefix log-scale seen at local t
        var y = Mix(p, [(starts.A.unsqueeze(2), starts.B.unsqueeze(2), sf)]);
        // The padded tail (keys NEG) only decayed the state by pad steps: undo that decay.
        var fin = new Wkv4Reference.ScanState(final.A, final.B, final.P + p.Pad * w);
        return (y, fin);
    }

    /// <summary>Bidirectional WKV (paper formula, distance |t-i|-1).</summary>
    public Tensor Bidirectional(Tensor k, Tensor v, Tensor w, Tensor u)
    {
        var p = Prepare(k, v, w, u, Chunk, causal: false);
        var (sf, fa, fb, sr, ra, rb) = PrefixSuffix(p, w, Chunk);
        return Mix(p, [(fa, fb, sf), (ra, rb, sr)]);
    }

    /// <summary>
    /// The forward of the original Vision-RWKV CUDA kernel (vision-rwkv.md §1.6 "old kernel"): chunks of
    /// L = ceil(T/32); across chunks the clean distance |t-j|; inside a chunk (s0 = chunk start, t,j global)
    /// f(t,j) = e^{-w(j-t)} for j&gt;t, e^{-w(t-1-j)} + [j&gt;s0]·e^{w(t-j)}(1-e^w) for j&lt;t,
    /// e^u + [t&gt;s0](1-e^w) for j=t; y_t = Σ_j f·e^{k_j}v_j / (Σ_j f·e^{k_j} + 1e-6·e^{m_t}).
    /// m_t is our max of the contributing logits; the kernel's running max may differ, which changes y by ≲1e-6.
    /// The in-chunk factors are computed directly, so |w|·L must stay below 60 (true for Vision-RWKV, |w|·T ≤ |decay|).
    /// </summary>
    public static Tensor OfficialOldKernelBidirectional(Tensor k, Tensor v, Tensor w, Tensor u)
    {
        long T = k.shape[1];
        int L = (int)((T + 31) / 32);
        double wmax = w.abs().max().item<float>();
        if (wmax * L > 60)
            throw new ArgumentException(
                $"WkvCompat.OfficialOldKernel needs |w|·ceil(T/32) ≤ 60 (got max|w|={wmax:G4}, T={T}); use WkvCompat.Exact.",
                nameof(w));
        var p = Prepare(k, v, w, u, L, causal: false);
        var (sf, fa, fb, sr, ra, rb) = PrefixSuffix(p, w, L);
        // The clean |t-j| distance is one more step of decay than the paper's |t-j|-1 on both sides.
        sf = sf - w;
        sr = sr - w;

        // In-chunk weights except e^u on the diagonal, linear and signed: [L,L,C].
        var ti = arange(L, dtype: k.dtype, device: k.device);
        var tt = ti.view(L, 1, 1);
        var jj = ti.view(1, L, 1);
        var wc = w.view(1, 1, -1);
        var one = ones_like(wc);
        var later = exp(-(jj - tt) * wc);                                        // j > t
        var earlier = exp(-(tt - 1 - jj) * wc)
                      + where(jj > 0, exp((tt - jj) * wc) * (one - exp(wc)), zeros_like(wc));  // j < t
        var diag = where(tt > 0, (one - exp(wc)).expand(L, 1, -1), zeros_like(wc));           // j = t, minus e^u
        var f = where(jj > tt, later, where(jj < tt, earlier, diag));           // [L,L,C]

        var selfLogit = u + p.Kc;                                                // [B,N,L,C]
        var kmax = p.Kc.amax([2], keepdim: true);                                // [B,N,1,C]
        var m = maximum(maximum(maximum(kmax, selfLogit), sf), sr).detach();     // [B,N,L,C]
        var ek = exp(p.Kc.unsqueeze(2) - m.unsqueeze(3));                        // [B,N,L(t),L(j),C]
        var fe = f * ek;
        var eS = exp(selfLogit - m);
        var eF = exp(sf - m);
        var eR = exp(sr - m);
        var num = (fe * p.Vc.unsqueeze(2)).sum(3) + eS * p.Vc + eF * fa + eR * ra;
        var den = fe.sum(3) + eS + eF * fb + eR * rb + 1e-6;
        return Unchunk(num / den, p);
    }

    private sealed record Prepared(Tensor Kc, Tensor Vc, Tensor Lam, Tensor Tloc, long T, long Pad);

    /// <summary>Pads T to N·L (keys NEG, values 0 ⇒ weight 0), reshapes to [B,N,L,C] and builds the in-chunk logits.</summary>
    private static Prepared Prepare(Tensor k, Tensor v, Tensor w, Tensor u, int L, bool causal)
    {
        long B = k.shape[0], T = k.shape[1], C = k.shape[2];
        long N = (T + L - 1) / L, pad = N * L - T;
        if (pad > 0)
        {
            k = cat([k, full(B, pad, C, Neg, k.dtype, k.device)], 1);
            v = cat([v, zeros(B, pad, C, v.dtype, v.device)], 1);
        }
        var kc = k.view(B, N, L, C);
        var vc = v.view(B, N, L, C);
        var ti = arange(L, dtype: k.dtype, device: k.device);
        var tt = ti.view(L, 1, 1);
        var jj = ti.view(1, L, 1);
        var dist = causal ? tt - 1 - jj : (tt - jj).abs() - 1;                   // [L,L,1]
        var d = -dist * w.view(1, 1, -1);                                       // [L,L,C]
        if (causal)
            d = where(jj < tt, d, full(1, 1, 1, Neg, k.dtype, k.device));
        var lam = d + kc.unsqueeze(2);                                           // [B,N,L,L,C]: k_j + D[t,j]
        var eye = torch.eye(L, dtype: ScalarType.Bool, device: k.device).view(1, 1, L, L, 1);
        lam = where(eye, (u + kc).unsqueeze(3), lam);                            // diagonal: u + k_t
        return new Prepared(kc, vc, lam, ti.view(1, 1, L, 1), T, pad);
    }

    /// <summary>
    /// Serial scan over chunks. Returns the state at every chunk start (stacked [B,N,C]; sums of tokens before the
    /// chunk, decay distance measured to the token before the chunk start) and the state after the last chunk.
    /// </summary>
    private static (Wkv4Reference.ScanState Starts, Wkv4Reference.ScanState Final) ChunkScan(Tensor kc, Tensor vc,
        Tensor w, int L, Wkv4Reference.ScanState s)
    {
        long N = kc.shape[1];
        var jl = arange(L, dtype: kc.dtype, device: kc.device).view(1, 1, L, 1);
        var sl = kc - (L - 1 - jl) * w;                                           // [B,N,L,C] logit seen from chunk end
        var slMax = sl.amax([2]);                                                // [B,N,C]
        var a = new Tensor[N];
        var b = new Tensor[N];
        var p = new Tensor[N];
        for (long n = 0; n < N; n++)
        {
            a[n] = s.A;
            b[n] = s.B;
            p[n] = s.P;
            var decayed = s.P - L * w;
            var q = maximum(decayed, slMax[.., (int)n]);
            var eo = exp(decayed - q);
            var en = exp(sl[.., (int)n] - q.unsqueeze(1));                       // [B,L,C]
            s = new Wkv4Reference.ScanState(eo * s.A + (en * vc[.., (int)n]).sum(1), eo * s.B + en.sum(1), q);
        }
        return (new Wkv4Reference.ScanState(stack(a, 1), stack(b, 1), stack(p, 1)), s);
    }

    /// <summary>Prefix and suffix states as seen at each local t: (log-scale, a, b) each [B,N,L,C] or broadcastable.</summary>
    private static (Tensor Sf, Tensor Fa, Tensor Fb, Tensor Sr, Tensor Ra, Tensor Rb) PrefixSuffix(Prepared p, Tensor w,
        int L)
    {
        long B = p.Kc.shape[0], C = p.Kc.shape[3];
        var empty = Wkv4Reference.Empty(B, C, p.Kc.dtype, p.Kc.device);
        var (fwd, _) = ChunkScan(p.Kc, p.Vc, w, L, empty);
        // Flip the PADDED sequence so that chunks stay aligned (the NEG padding then comes first and weighs 0).
        var kr = p.Kc.flip(1, 2);
        var vr = p.Vc.flip(1, 2);
        var (bwd, _) = ChunkScan(kr, vr, w, L, empty);
        var ra = bwd.A.flip(1).unsqueeze(2);
        var rb = bwd.B.flip(1).unsqueeze(2);
        var sf = fwd.P.unsqueeze(2) - p.Tloc * w;
        var sr = bwd.P.flip(1).unsqueeze(2) - (L - 1 - p.Tloc) * w;
        return (sf, fwd.A.unsqueeze(2), fwd.B.unsqueeze(2), sr, ra, rb);
    }

    /// <summary>y = (Σ_j e^{Lam-m} v_j + Σ_parts e^{s-m}·a) / (Σ_j e^{Lam-m} + Σ_parts e^{s-m}·b), m detached.</summary>
    private static Tensor Mix(Prepared p, (Tensor A, Tensor B, Tensor S)[] parts)
    {
        var m = p.Lam.amax([3]);                                                 // [B,N,L,C]
        foreach (var part in parts)
            m = maximum(m, part.S);
        m = m.detach();                                                          // y does not depend on m
        var e = exp(p.Lam - m.unsqueeze(3));                                     // [B,N,L,L,C]
        var num = (e * p.Vc.unsqueeze(2)).sum(3);
        var den = e.sum(3);
        foreach (var part in parts)
        {
            var ep = exp(part.S - m);
            num = num + ep * part.A;
            den = den + ep * part.B;
        }
        return Unchunk(num / den, p);
    }

    private static Tensor Unchunk(Tensor y, Prepared p)
    {
        long B = y.shape[0], C = y.shape[3];
        y = y.reshape(B, -1, C);
        return p.Pad > 0 ? y[.., ..(int)p.T] : y;
    }
}
