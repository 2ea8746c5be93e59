using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace VisionRwkv.Models;

/// <summary>
/// SIMD loops of the fused Q-Shift + token mix over contiguous float32 [B,N,C] data, one grid row (b, h) per work
/// item. Every row is independent: the forward and the input gradient only gather (the adjoint of the neighbour
/// gather is again a gather, from the opposite neighbour), so no two items write the same memory.
/// </summary>
internal static unsafe class TokenShiftMixKernel
{
    /// <summary>Grid geometry and channel split: quarters [0,q) ← left, [q,2q) ← right, [2q,3q) ← above, [3q,4q) ← below.</summary>
    internal readonly record struct Geometry(int B, int H, int W, int C, int Q, int S);

    /// <summary>
    /// Copies into <paramref name="dst"/> the [C] vector that token (h, w) reads from its neighbours in the [N,C] data
    /// at <paramref name="batchBase"/>. With <paramref name="adjoint"/> the directions are reversed: that is the
    /// adjoint of the gather (each quarter comes back from the token it was sent to).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather(float* batchBase, in Geometry g, int h, int w, bool adjoint, float* dst)
    {
        int q = g.Q, s = adjoint ? -g.S : g.S;
        Segment(batchBase, g, h, w - s, 0, q, dst);             // forward: left neighbour x[h, w-s]
        Segment(batchBase, g, h, w + s, q, q, dst);             // right neighbour x[h, w+s]
        Segment(batchBase, g, h - s, w, 2 * q, q, dst);         // upper neighbour x[h-s, w]
        Segment(batchBase, g, h + s, w, 3 * q, q, dst);         // lower neighbour x[h+s, w]
        Segment(batchBase, g, h, w, 4 * q, g.C - (4 * q), dst); // remainder unshifted
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Segment(float* batchBase, in Geometry g, int h, int w, int c0, int count, float* dst)
    {
        if (count == 0) return;
        var target = new Span<float>(dst + c0, count);
        if (h < 0 || h >= g.H || w < 0 || w >= g.W)
            target.Clear();
        else
            new ReadOnlySpan<float>(batchBase + ((((long)h * g.W) + w) * g.C) + c0, count).CopyTo(target);
    }

    /// <summary>out_m[t] = xx[t] + (x[t] - xx[t])·μ_m for every token of grid row (b, h).</summary>
    internal static void ForwardRow(float* x, float*[] mu, float*[] outs, in Geometry g, int b, int h, float* xx)
    {
        int C = g.C, m = mu.Length;
        float* batchX = x + ((long)b * g.H * g.W * C);
        for (int w = 0; w < g.W; w++)
        {
            long t = ((long)h * g.W) + w;
            Gather(batchX, g, h, w, adjoint: false, xx);
            float* xt = batchX + (t * C);
            long offset = (((long)b * g.H * g.W) + t) * C;
            int c = 0;
            for (; c <= C - Vector256<float>.Count; c += Vector256<float>.Count)
            {
                var vxx = Vector256.Load(xx + c);
                var d = Vector256.Load(xt + c) - vxx;
                for (int i = 0; i < m; i++)
                    (vxx + (d * Vector256.Load(mu[i] + c))).Store(outs[i] + offset + c);
            }
            for (; c < C; c++)
            {
                float d = xt[c] - xx[c];
                for (int i = 0; i < m; i++)
                    outs[i][offset + c] = xx[c] + (d * mu[i][c]);
            }
        }
    }

    /// <summary>
    /// For grid row (b, h): gx[t] = Σ_m g_m[t]·μ_m + shiftᵀ(Σ_m g_m·(1-μ_m))[t], and adds Σ_t g_m[t]·(x[t]-xx[t]) to
    /// <paramref name="gmuRow"/> ([m,C], this row's own partial, summed in token order). Mixes without a gradient
    /// have a null pointer in <paramref name="grads"/> and count as zero.
    /// </summary>
    internal static void BackwardRow(float* x, float*[] mu, float*[] grads, float* gx, float* gmuRow, in Geometry g,
        int b, int h, float* scratch)
    {
        int C = g.C, m = mu.Length;
        long batchOffset = (long)b * g.H * g.W * C;
        float* batchX = x + batchOffset;
        float* xx = scratch;                  // [C] gathered x
        float* gg = scratch + C;              // [m,C] adjoint-gathered g_m
        for (int w = 0; w < g.W; w++)
        {
            long t = ((long)h * g.W) + w;
            Gather(batchX, g, h, w, adjoint: false, xx);
            for (int i = 0; i < m; i++)
                if (grads[i] != null)
                    Gather(grads[i] + batchOffset, g, h, w, adjoint: true, gg + ((long)i * C));
            float* xt = batchX + (t * C);
            float* gxt = gx + batchOffset + (t * C);
            int c = 0;
            for (; c <= C - Vector256<float>.Count; c += Vector256<float>.Count)
            {
                var d = Vector256.Load(xt + c) - Vector256.Load(xx + c);
                var acc = Vector256<float>.Zero;
                for (int i = 0; i < m; i++)
                {
                    if (grads[i] == null) continue;
                    var mui = Vector256.Load(mu[i] + c);
                    var gi = Vector256.Load(grads[i] + batchOffset + (t * C) + c);
                    var ggi = Vector256.Load(gg + ((long)i * C) + c);
                    acc += (gi * mui) + (ggi * (Vector256<float>.One - mui));
                    float* gm = gmuRow + ((long)i * C) + c;
                    (Vector256.Load(gm) + (gi * d)).Store(gm);
                }
                acc.Store(gxt + c);
            }
            for (; c < C; c++)
            {
                float d = xt[c] - xx[c];
                float acc = 0f;
                for (int i = 0; i < m; i++)
                {
                    if (grads[i] == null) continue;
                    float mui = mu[i][c];
                    float gi = grads[i][batchOffset + (t * C) + c];
                    acc += (gi * mui) + (gg[((long)i * C) + c] * (1f - mui));
                    gmuRow[((long)i * C) + c] += gi * d;
                }
                gxt[c] = acc;
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> for every grid row (b, h) in parallel with a per-thread scratch buffer.</summary>
    internal static void ForEachRow(in Geometry g, long scratchFloats, Action<int, int, nint> body)
    {
        int h = g.H;
        Parallel.For(0, g.B * g.H,
            () => (nint)NativeMemory.Alloc((nuint)Math.Max(1, scratchFloats), sizeof(float)),
            (row, _, scratch) =>
            {
                body(row / h, row % h, scratch);
                return scratch;
            },
            scratch => NativeMemory.Free((void*)scratch));
    }
}
