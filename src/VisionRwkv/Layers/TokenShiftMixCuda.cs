using TorchSharp;
using VisionRwkv.Wkv.Cuda;
using VisionRwkv.Cuda;
using static TorchSharp.torch;

namespace VisionRwkv.Layers;

/// <summary>
/// The fused Q-Shift + token mixes on CUDA: the same math as <see cref="TokenShiftMixKernel"/> (forward gather, the
/// adjoint gather for the input gradient, per-channel sums for the mix gradients), one thread per element, compiled
/// at run time with NVRTC like the WKV kernels. In eager mode the tensor-op composition launches about a dozen
/// kernels per block and direction over [B,N,C] tensors; this is one kernel forward and two backward.
/// </summary>
internal static class TokenShiftMixCuda
{
    /// <summary>Up to three mixes (the spatial mix has k, v, r); unused pointers are 0.</summary>
    internal const int MaxMixes = 3;

    internal const string Source = """
        typedef long long i64;

        // Channel segment of c: 0 <- left, 1 <- right, 2 <- above, 3 <- below (quarters of q channels), 4 unshifted.
        __device__ __forceinline__ int segment(i64 c, i64 q) { return (q > 0 && c < 4 * q) ? (int)(c / q) : 4; }

        // Token index (h2, w2) that segment seg of token (h, w) reads (adjoint: the token that reads from (h, w));
        // -1 past the border.
        __device__ __forceinline__ i64 source(int seg, i64 h, i64 w, i64 H, i64 W, i64 s, bool adjoint)
        {
            if (adjoint) s = -s;
            i64 h2 = h, w2 = w;
            if (seg == 0) w2 = w - s; else if (seg == 1) w2 = w + s; else if (seg == 2) h2 = h - s; else if (seg == 3) h2 = h + s;
            return (h2 < 0 || h2 >= H || w2 < 0 || w2 >= W) ? -1 : h2 * W + w2;
        }

        // out_m = xx + (x - xx) * mu_m for every element of x [B, H*W, C].
        extern "C" __global__ void tsm_forward(const float* __restrict__ x, const float* __restrict__ mu0,
            const float* __restrict__ mu1, const float* __restrict__ mu2, float* __restrict__ o0, float* __restrict__ o1,
            float* __restrict__ o2, i64 total, i64 H, i64 W, i64 C, i64 q, i64 s)
        {
            i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x;
            if (i >= total) return;
            i64 c = i % C, row = i / C, n = row % (H * W), b = row / (H * W);
            i64 src = source(segment(c, q), n / W, n % W, H, W, s, false);
            float xv = x[i];
            float xx = src < 0 ? 0.f : x[(b * H * W + src) * C + c];
            float d = xv - xx;
            o0[i] = xx + d * mu0[c];
            if (o1) o1[i] = xx + d * mu1[c];
            if (o2) o2[i] = xx + d * mu2[c];
        }

        // gx = sum_m g_m * mu_m + (adjoint neighbour's) sum_m g_m * (1 - mu_m); a null g_m counts as zero.
        extern "C" __global__ void tsm_backward_x(const float* __restrict__ mu0, const float* __restrict__ mu1,
            const float* __restrict__ mu2, const float* __restrict__ g0, const float* __restrict__ g1,
            const float* __restrict__ g2, float* __restrict__ gx, i64 total, i64 H, i64 W, i64 C, i64 q, i64 s)
        {
            i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x;
            if (i >= total) return;
            i64 c = i % C, row = i / C, n = row % (H * W), b = row / (H * W);
            i64 adj = source(segment(c, q), n / W, n % W, H, W, s, true);
            i64 j = adj < 0 ? -1 : (b * H * W + adj) * C + c;
            float acc = 0.f;
            if (g0) { float m = mu0[c]; acc += g0[i] * m + (j < 0 ? 0.f : g0[j] * (1.f - m)); }
            if (g1) { float m = mu1[c]; acc += g1[i] * m + (j < 0 ? 0.f : g1[j] * (1.f - m)); }
            if (g2) { float m = mu2[c]; acc += g2[i] * m + (j < 0 ? 0.f : g2[j] * (1.f - m)); }
            gx[i] = acc;
        }

        // partial[chunk, m, c] = sum over the rows of one chunk of g_m * (x - xx); thread = (chunk, c), rows in order.
        extern "C" __global__ void tsm_backward_mu(const float* __restrict__ x, const float* __restrict__ g0,
            const float* __restrict__ g1, const float* __restrict__ g2, float* __restrict__ partial, i64 chunks,
            i64 rows, i64 rowsPerChunk, i64 H, i64 W, i64 C, i64 q, i64 s)
        {
            i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x;
            if (i >= chunks * C) return;
            i64 c = i % C, chunk = i / C;
            int seg = segment(c, q);
            float a0 = 0.f, a1 = 0.f, a2 = 0.f;
            i64 end = min(rows, (chunk + 1) * rowsPerChunk);
            for (i64 row = chunk * rowsPerChunk; row < end; row++)
            {
                i64 n = row % (H * W), b = row / (H * W);
                i64 src = source(seg, n / W, n % W, H, W, s, false);
                i64 e = row * C + c;
                float d = x[e] - (src < 0 ? 0.f : x[(b * H * W + src) * C + c]);
                if (g0) a0 += g0[e] * d;
                if (g1) a1 += g1[e] * d;
                if (g2) a2 += g2[e] * d;
            }
            partial[(chunk * 3 + 0) * C + c] = a0;
            partial[(chunk * 3 + 1) * C + c] = a1;
            partial[(chunk * 3 + 2) * C + c] = a2;
        }
        """;

    private static readonly CudaKernelModule Module =
        new(Source, "token_shift_mix.cu", ["tsm_forward", "tsm_backward_x", "tsm_backward_mu"],
            "the fused CUDA token-shift kernel", "tensor ops");

    /// <summary>
    /// Whether the kernels run on <paramref name="device"/> (compiled and loaded on first use); on the first failure
    /// prints once why the tensor-op composition runs instead. KernelOptions.CudaTokenShift = false turns the fused path off.
    /// </summary>
    internal static bool CanRun(Device device, bool enabled = true) => Module.CanRun(device, enabled);

    private const uint Block = 256;

    private static long P(Tensor? t) => t is null ? 0 : CudaKernelModule.Ptr(t);

    private static Tensor? At(IReadOnlyList<Tensor?> list, int i) => i < list.Count ? list[i] : null;

    /// <summary>Writes one output per mix; <paramref name="x"/> and every tensor contiguous float32 on one CUDA device.</summary>
    internal static void Forward(Tensor x, TokenShiftMixKernel.Geometry g, IReadOnlyList<Tensor> mixes, IReadOnlyList<Tensor> outs)
    {
        long total = x.numel();
        Module.Launch("tsm_forward", x, total,
            [P(x), P(At(mixes, 0)), P(At(mixes, 1)), P(At(mixes, 2)), P(At(outs, 0)), P(At(outs, 1)), P(At(outs, 2)),
                total, g.H, g.W, g.C, g.Q, g.S], Block);
    }

    /// <summary>Input gradient; a null output gradient counts as zero.</summary>
    internal static void BackwardInput(TokenShiftMixKernel.Geometry g, IReadOnlyList<Tensor> mixes,
        IReadOnlyList<Tensor?> grads, Tensor gx)
    {
        long total = gx.numel();
        Module.Launch("tsm_backward_x", gx, total,
            [P(At(mixes, 0)), P(At(mixes, 1)), P(At(mixes, 2)), P(At(grads, 0)), P(At(grads, 1)), P(At(grads, 2)), P(gx),
                total, g.H, g.W, g.C, g.Q, g.S], Block);
    }

    /// <summary>Mix gradients, [3, C] (rows of absent gradients are zero), summed per chunk of rows then over chunks.</summary>
    internal static Tensor BackwardMixes(Tensor x, TokenShiftMixKernel.Geometry g, IReadOnlyList<Tensor?> grads)
    {
        long rows = (long)g.B * g.H * g.W;
        // About 64 rows per thread keeps the partials small; enough chunks that C·chunks threads fill the GPU.
        long chunks = Math.Max(1, Math.Min(rows, (rows + 63) / 64));
        long rowsPerChunk = (rows + chunks - 1) / chunks;
        chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        using var partial = empty(new[] { chunks, MaxMixes, (long)g.C }, device: x.device);
        Module.Launch("tsm_backward_mu", x, chunks * g.C,
            [P(x), P(At(grads, 0)), P(At(grads, 1)), P(At(grads, 2)), P(partial), chunks, rows, rowsPerChunk,
                g.H, g.W, g.C, g.Q, g.S], Block);
        return partial.sum([0L]);
    }
}
