using TorchSharp;
using VisionRwkv.Cuda;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv.Cuda;

/// <summary>
/// The fused CUDA WKV-4 kernels (source compiled at run time by NVRTC) and their launches on LibTorch tensors. One
/// thread owns one (batch row, channel) and scans its T tokens, exactly the math of <see cref="Wkv4CpuKernel"/>:
/// log-stable states (a, b, p) whose real sums are (a, b)·e^p, every exp of a value ≤ 0 (no T limit, no overflow),
/// O(T) memory (the forward stores y and ln(denominator) for the analytic backward). Consecutive threads own
/// consecutive channels, so each step's loads of a warp are one coalesced [B,T,C] row segment.
/// All tensors must be contiguous float32 on the same CUDA device.
/// </summary>
internal static class WkvCudaKernel
{
    /// <summary>CUDA C source. w is the per-step decay (e^{-w} per token of distance), u the bonus of the token itself.</summary>
    internal const string Source = """
        #define NEG (-1e30f)
        typedef long long i64;

        // S <- e^{-w} S + e^{x} (val1, val2). Of the two factors e^{p-w-q}, e^{x-q} (q the new max) one is exactly 1.
        __device__ __forceinline__ void push(float& s1, float& s2, float& p, float w, float x, float val1, float val2)
        {
            float decayed = p - w;
            float d = decayed - x;
            float e = __expf(-fabsf(d));
            bool oldWins = d >= 0.f;
            float e1 = oldWins ? 1.f : e;
            float e2 = oldWins ? e : 1.f;
            s1 = e1 * s1 + e2 * val1;
            s2 = e1 * s2 + e2 * val2;
            p = fmaxf(decayed, x);
        }

        // push() that also carries (ad, bd) = -d(a, b)/dw in the same scale: S'_{n+1} = e^{-w}(S'_n + S_n).
        __device__ __forceinline__ void push_d(float& a, float& b, float& ad, float& bd, float& p, float w, float k, float v)
        {
            float decayed = p - w;
            float d = decayed - k;
            float e = __expf(-fabsf(d));
            bool oldWins = d >= 0.f;
            float e1 = oldWins ? 1.f : e;
            float e2 = oldWins ? e : 1.f;
            ad = e1 * (ad + a);
            bd = e1 * (bd + b);
            a = e1 * a + e2 * v;
            b = e1 * b + e2;
            p = fmaxf(decayed, k);
        }

        // Bidirectional forward. Pass 1 stores each token's exclusive prefix state in normalised form: its weighted
        // mean r = a/b in y and its log-weight l = p + ln b in lnD (NEG when empty; b >= 1 otherwise). Pass 2 runs the
        // suffix scan backwards and combines: y = (r e^{l-m} + aR e^{pR-m} + v e^{u+k-m}) / (e^{l-m} + bR e^{pR-m} + e^{u+k-m}).
        extern "C" __global__ void wkv_bi_forward(const float* __restrict__ k, const float* __restrict__ v,
            const float* __restrict__ w, const float* __restrict__ u, float* __restrict__ y, float* __restrict__ lnD,
            i64 B, i64 T, i64 C)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * C) return;
            i64 b = idx / C, c = idx - b * C;
            i64 base = b * T * C + c;
            float ww = w[c], uu = u[c];
            float a = 0.f, s = 0.f, p = NEG;
            #pragma unroll 4
            for (i64 t = 0; t < T; t++)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o];
                bool empty = s <= 0.f;
                y[o] = empty ? 0.f : a / s;
                lnD[o] = empty ? NEG : p + __logf(s);
                push(a, s, p, ww, kt, vt, 1.f);
            }
            a = 0.f; s = 0.f; p = NEG;
            #pragma unroll 4
            for (i64 t = T - 1; t >= 0; t--)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o], rF = y[o], lF = lnD[o];
                float self = uu + kt;
                float m = fmaxf(fmaxf(lF, p), self);
                float eF = __expf(lF - m), eR = __expf(p - m), eS = __expf(self - m);
                float num = eF * rF + eR * a + eS * vt;
                float den = eF + eR * s + eS;                  // >= 1: the largest part has factor 1
                y[o] = num / den;
                lnD[o] = m + __logf(den);
                push(a, s, p, ww, kt, vt, 1.f);
            }
        }

        // ---- Segmented bidirectional forward, for few (b, c) pairs and long T (large images, small batches) ----
        // T is cut into S segments of L tokens (the last may be shorter); idx runs over (b, s, c), c fastest.
        // Phase 1: each segment's own forward and reverse states from empty. Phase 2 (one thread per (b, c)): the
        // states entering every segment, S' = e^{-len w} S + summary. Phase 3: the plain two-pass kernel per segment
        // from those entry states. st holds 6 planes [B,S,C]: forward a, b, p, reverse a, b, p.
        __device__ __forceinline__ void seg_coords(i64 idx, i64 S, i64 C, i64& b, i64& s, i64& c)
        {
            c = idx % C; i64 r = idx / C; s = r % S; b = r / S;
        }

        extern "C" __global__ void wkv_bi_seg_summary(const float* __restrict__ k, const float* __restrict__ v,
            const float* __restrict__ w, float* __restrict__ st, i64 B, i64 T, i64 C, i64 S, i64 L)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * S * C) return;
            i64 b, s, c; seg_coords(idx, S, C, b, s, c);
            i64 t0 = s * L, t1 = min(T, t0 + L), plane = B * S * C;
            i64 base = b * T * C + c;
            float ww = w[c];
            float a = 0.f, z = 0.f, p = NEG;
            #pragma unroll 4
            for (i64 t = t0; t < t1; t++) { i64 o = base + t * C; push(a, z, p, ww, k[o], v[o], 1.f); }
            st[idx] = a; st[plane + idx] = z; st[2 * plane + idx] = p;
            a = 0.f; z = 0.f; p = NEG;
            #pragma unroll 4
            for (i64 t = t1 - 1; t >= t0; t--) { i64 o = base + t * C; push(a, z, p, ww, k[o], v[o], 1.f); }
            st[3 * plane + idx] = a; st[4 * plane + idx] = z; st[5 * plane + idx] = p;
        }

        // X <- e^{-len w} X + Y for log-stable states.
        __device__ __forceinline__ void combine(float& a, float& z, float& p, float lenw, float ya, float yz, float yp)
        {
            float pd = p - lenw;
            float q = fmaxf(pd, yp);
            float e1 = __expf(pd - q), e2 = __expf(yp - q);
            a = e1 * a + e2 * ya; z = e1 * z + e2 * yz; p = q;
        }

        extern "C" __global__ void wkv_bi_seg_scan(const float* __restrict__ w, float* __restrict__ st,
            i64 B, i64 T, i64 C, i64 S, i64 L)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * C) return;
            i64 b = idx / C, c = idx - b * C, plane = B * S * C;
            float ww = w[c];
            float a = 0.f, z = 0.f, p = NEG;                 // state entering segment s (forward)
            for (i64 s = 0; s < S; s++)
            {
                i64 j = (b * S + s) * C + c;
                float ya = st[j], yz = st[plane + j], yp = st[2 * plane + j];
                st[j] = a; st[plane + j] = z; st[2 * plane + j] = p;
                i64 len = min(T, (s + 1) * L) - s * L;
                combine(a, z, p, (float)len * ww, ya, yz, yp);
            }
            a = 0.f; z = 0.f; p = NEG;                       // state entering segment s from the right (reverse)
            for (i64 s = S - 1; s >= 0; s--)
            {
                i64 j = (b * S + s) * C + c;
                float ya = st[3 * plane + j], yz = st[4 * plane + j], yp = st[5 * plane + j];
                st[3 * plane + j] = a; st[4 * plane + j] = z; st[5 * plane + j] = p;
                i64 len = min(T, (s + 1) * L) - s * L;
                combine(a, z, p, (float)len * ww, ya, yz, yp);
            }
        }

        extern "C" __global__ void wkv_bi_seg_forward(const float* __restrict__ k, const float* __restrict__ v,
            const float* __restrict__ w, const float* __restrict__ u, const float* __restrict__ st,
            float* __restrict__ y, float* __restrict__ lnD, i64 B, i64 T, i64 C, i64 S, i64 L)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * S * C) return;
            i64 b, s, c; seg_coords(idx, S, C, b, s, c);
            i64 t0 = s * L, t1 = min(T, t0 + L), plane = B * S * C;
            i64 base = b * T * C + c;
            float ww = w[c], uu = u[c];
            float a = st[idx], z = st[plane + idx], p = st[2 * plane + idx];
            #pragma unroll 4
            for (i64 t = t0; t < t1; t++)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o];
                bool empty = z <= 0.f;
                y[o] = empty ? 0.f : a / z;
                lnD[o] = empty ? NEG : p + __logf(z);
                push(a, z, p, ww, kt, vt, 1.f);
            }
            a = st[3 * plane + idx]; z = st[4 * plane + idx]; p = st[5 * plane + idx];
            #pragma unroll 4
            for (i64 t = t1 - 1; t >= t0; t--)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o], rF = y[o], lF = lnD[o];
                float self = uu + kt;
                float m = fmaxf(fmaxf(lF, p), self);
                float eF = __expf(lF - m), eR = __expf(p - m), eS = __expf(self - m);
                float num = eF * rF + eR * a + eS * vt;
                float den = eF + eR * z + eS;
                y[o] = num / den;
                lnD[o] = m + __logf(den);
                push(a, z, p, ww, kt, vt, 1.f);
            }
        }

        // Bidirectional backward from y, lnD and gy (wkv-core.md 1.3). With g_t = gy_t / D_t and alpha_{t,i} the weights:
        // gv_i = sum_t g_t alpha_{t,i}; gk_i = sum_t g_t alpha_{t,i} (v_i - y_t); gu = sum_t g_t alpha_{t,t}(v_t - y_t);
        // gw = -sum_t sum_{i!=t} g_t alpha_{t,i} (v_i - y_t)(|t-i|-1). Sums over outputs t for an input i are transposed
        // scans with logits -lnD_t (h1, h2, ph); sums over inputs i for an output t re-run the primary scan with
        // derivative states. gw, gu are written per (b, c) and reduced over b by the caller.
        extern "C" __global__ void wkv_bi_backward(const float* __restrict__ k, const float* __restrict__ v,
            const float* __restrict__ w, const float* __restrict__ u, const float* __restrict__ y,
            const float* __restrict__ lnD, const float* __restrict__ gy, float* __restrict__ gk, float* __restrict__ gv,
            float* __restrict__ gwRows, float* __restrict__ guRows, i64 B, i64 T, i64 C)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * C) return;
            i64 b = idx / C, c = idx - b * C;
            i64 base = b * T * C + c;
            float ww = w[c], uu = u[c];
            float gw = 0.f, gu = 0.f;
            float a = 0.f, s = 0.f, ad = 0.f, bd = 0.f, p = NEG;
            float h1 = 0.f, h2 = 0.f, ph = NEG;
            #pragma unroll 2
            for (i64 t = 0; t < T; t++)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o], yt = y[o], lt = lnD[o], gt = gy[o];
                gw -= gt * __expf(p - lt) * (ad - yt * bd);
                float eh = __expf(kt + ph);
                gv[o] = eh * h1;                               // partial sum over earlier outputs
                gk[o] = eh * h2;
                push_d(a, s, ad, bd, p, ww, kt, vt);
                push(h1, h2, ph, ww, -lt, gt, gt * yt);
            }
            a = 0.f; s = 0.f; ad = 0.f; bd = 0.f; p = NEG;
            h1 = 0.f; h2 = 0.f; ph = NEG;
            #pragma unroll 2
            for (i64 t = T - 1; t >= 0; t--)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o], yt = y[o], lt = lnD[o], gt = gy[o];
                gw -= gt * __expf(p - lt) * (ad - yt * bd);
                float eh = __expf(kt + ph);
                float gvOff = gv[o] + eh * h1;
                float gyOff = gk[o] + eh * h2;
                float gd = gt * __expf(uu + kt - lt);          // g_t alpha_{t,t}
                float dv = vt - yt;
                gu += gd * dv;
                gv[o] = gvOff + gd;
                gk[o] = vt * gvOff - gyOff + gd * dv;
                push_d(a, s, ad, bd, p, ww, kt, vt);
                push(h1, h2, ph, ww, -lt, gt, gt * yt);
            }
            gwRows[idx] = gw;
            guRows[idx] = gu;
        }

        // Causal forward from the state (a0, b0, p0), writing the state after the last token to (aT, bT, pT):
        // y = (a e^{p-m} + v e^{u+k-m}) / (b e^{p-m} + e^{u+k-m}); lnD = m + ln(denominator) unless lnD is null.
        extern "C" __global__ void wkv_causal_forward(const float* __restrict__ k, const float* __restrict__ v,
            const float* __restrict__ w, const float* __restrict__ u, float* __restrict__ y, float* __restrict__ lnD,
            const float* __restrict__ a0, const float* __restrict__ b0, const float* __restrict__ p0,
            float* __restrict__ aT, float* __restrict__ bT, float* __restrict__ pT, i64 B, i64 T, i64 C)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * C) return;
            i64 b = idx / C, c = idx - b * C;
            i64 base = b * T * C + c;
            float ww = w[c], uu = u[c];
            float a = a0[idx], s = b0[idx], p = p0[idx];
            #pragma unroll 4
            for (i64 t = 0; t < T; t++)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o];
                float self = uu + kt;
                float d = p - self;
                float e = __expf(-fabsf(d));
                bool stateWins = d >= 0.f;
                float e1 = stateWins ? 1.f : e;
                float e2 = stateWins ? e : 1.f;
                float den = e1 * s + e2;
                y[o] = (e1 * a + e2 * vt) / den;
                if (lnD) lnD[o] = fmaxf(p, self) + __logf(den);
                push(a, s, p, ww, kt, vt, 1.f);
            }
            aT[idx] = a; bT[idx] = s; pT[idx] = p;
        }

        // Causal backward (the initial state is a constant): a forward pass re-runs the prefix scan with derivative
        // states for gw and does the diagonal terms; a backward pass is the transposed scan over later outputs.
        extern "C" __global__ void wkv_causal_backward(const float* __restrict__ k, const float* __restrict__ v,
            const float* __restrict__ w, const float* __restrict__ u, const float* __restrict__ y,
            const float* __restrict__ lnD, const float* __restrict__ gy, float* __restrict__ gk, float* __restrict__ gv,
            const float* __restrict__ a0, const float* __restrict__ b0, const float* __restrict__ p0,
            float* __restrict__ gwRows, float* __restrict__ guRows, i64 B, i64 T, i64 C)
        {
            i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            if (idx >= B * C) return;
            i64 b = idx / C, c = idx - b * C;
            i64 base = b * T * C + c;
            float ww = w[c], uu = u[c];
            float gw = 0.f, gu = 0.f;
            float a = a0[idx], s = b0[idx], ad = 0.f, bd = 0.f, p = p0[idx];
            #pragma unroll 2
            for (i64 t = 0; t < T; t++)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o], yt = y[o], lt = lnD[o], gt = gy[o];
                gw -= gt * __expf(p - lt) * (ad - yt * bd);
                float gd = gt * __expf(uu + kt - lt);
                float dv = vt - yt;
                gu += gd * dv;
                gv[o] = gd;
                gk[o] = gd * dv;
                push_d(a, s, ad, bd, p, ww, kt, vt);
            }
            float h1 = 0.f, h2 = 0.f, ph = NEG;
            #pragma unroll 2
            for (i64 t = T - 1; t >= 0; t--)
            {
                i64 o = base + t * C;
                float kt = k[o], vt = v[o], yt = y[o], lt = lnD[o], gt = gy[o];
                float eh = __expf(kt + ph);
                float gvOff = eh * h1;
                gv[o] += gvOff;
                gk[o] += vt * gvOff - eh * h2;
                push(h1, h2, ph, ww, -lt, gt, gt * yt);
            }
            gwRows[idx] = gw;
            guRows[idx] = gu;
        }
        """;

    private static readonly string[] KernelNames =
        ["wkv_bi_forward", "wkv_bi_backward", "wkv_causal_forward", "wkv_causal_backward",
            "wkv_bi_seg_summary", "wkv_bi_seg_scan", "wkv_bi_seg_forward"];

    /// <summary>Loading, availability and the fallback message of these kernels.</summary>
    internal static readonly CudaKernelModule Kernels = new(Source, "wkv4.cu", KernelNames,
        "the fused CUDA WKV kernel", "the chunked tensor-op WKV");

    /// <summary>
    /// Compiles (once per compute capability) and loads (once per device) the kernels; throws with the reason when
    /// the driver, NVRTC or the compilation fails.
    /// </summary>
    public static void EnsureLoaded(int device) => Kernels.EnsureLoaded(device);

    /// <summary>
    /// Bidirectional forward. With too few (b, c) pairs to fill the GPU and a long T, the sequence is cut into
    /// segments scanned in parallel (<see cref="Segments"/>); otherwise one thread scans each whole (b, c). A positive
    /// forcedSegments fixes the number of segments (1: never cut).
    /// </summary>
    public static void BidirectionalForward(Tensor k, Tensor v, Tensor w, Tensor u, Tensor y, Tensor lnD, long forcedSegments = 0)
    {
        var (B, T, C) = Dims(k);
        long S = forcedSegments > 0 ? Math.Min(forcedSegments, T) : Segments(k, B * C, T);
        if (S <= 1)
        {
            Launch("wkv_bi_forward", k, B * C, [Ptr(k), Ptr(v), Ptr(w), Ptr(u), Ptr(y), Ptr(lnD), B, T, C]);
            return;
        }
        long L = (T + S - 1) / S;
        S = (T + L - 1) / L;
        using var st = empty(new[] { 6, B, S, C }, device: k.device);
        Launch("wkv_bi_seg_summary", k, B * S * C, [Ptr(k), Ptr(v), Ptr(w), Ptr(st), B, T, C, S, L]);
        Launch("wkv_bi_seg_scan", k, B * C, [Ptr(w), Ptr(st), B, T, C, S, L]);
        Launch("wkv_bi_seg_forward", k, B * S * C, [Ptr(k), Ptr(v), Ptr(w), Ptr(u), Ptr(st), Ptr(y), Ptr(lnD), B, T, C, S, L]);
    }

    /// <summary>
    /// How many segments to cut T into: enough for about 512 threads per multiprocessor, segments of at least 32
    /// tokens; 1 (no cutting) when the (b, c) pairs alone fill the GPU.
    /// </summary>
    internal static long Segments(Tensor like, long pairs, long T)
    {
        long target = 512L * Kernels.Multiprocessors(like);
        if (pairs * 2 > target)
            return 1;
        return Math.Max(1, Math.Min((target + pairs - 1) / pairs, T / 32));
    }

    public static void BidirectionalBackward(Tensor k, Tensor v, Tensor w, Tensor u, Tensor y, Tensor lnD, Tensor gy,
        Tensor gk, Tensor gv, Tensor gwRows, Tensor guRows)
    {
        var (B, T, C) = Dims(k);
        Launch("wkv_bi_backward", k, B * C, [Ptr(k), Ptr(v), Ptr(w), Ptr(u), Ptr(y), Ptr(lnD), Ptr(gy), Ptr(gk), Ptr(gv),
            Ptr(gwRows), Ptr(guRows), B, T, C]);
    }

    /// <summary>Causal forward; <paramref name="lnD"/> may be null (inference: the backward's input is not kept).</summary>
    public static void CausalForward(Tensor k, Tensor v, Tensor w, Tensor u, Tensor y, Tensor? lnD,
        Tensor a0, Tensor b0, Tensor p0, Tensor aT, Tensor bT, Tensor pT)
    {
        var (B, T, C) = Dims(k);
        Launch("wkv_causal_forward", k, B * C, [Ptr(k), Ptr(v), Ptr(w), Ptr(u), Ptr(y), lnD is null ? 0 : Ptr(lnD),
            Ptr(a0), Ptr(b0), Ptr(p0), Ptr(aT), Ptr(bT), Ptr(pT), B, T, C]);
    }

    public static void CausalBackward(Tensor k, Tensor v, Tensor w, Tensor u, Tensor y, Tensor lnD, Tensor gy,
        Tensor gk, Tensor gv, Tensor a0, Tensor b0, Tensor p0, Tensor gwRows, Tensor guRows)
    {
        var (B, T, C) = Dims(k);
        Launch("wkv_causal_backward", k, B * C, [Ptr(k), Ptr(v), Ptr(w), Ptr(u), Ptr(y), Ptr(lnD), Ptr(gy), Ptr(gk),
            Ptr(gv), Ptr(a0), Ptr(b0), Ptr(p0), Ptr(gwRows), Ptr(guRows), B, T, C]);
    }

    private static (long B, long T, long C) Dims(Tensor k) => (k.shape[0], k.shape[1], k.shape[2]);

    internal static long Ptr(Tensor t) => CudaKernelModule.Ptr(t);

    private static void Launch(string name, Tensor like, long threads, long[] args) => Kernels.Launch(name, like, threads, args);
}
