using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace VisionRwkv.Layers;

/// <summary>
/// SIMD loops of the fused Q-Shift + token mix over contiguous float32 [B,N,C] data, one grid row (b, h) per work
/// item. Every row is independent: the forward and the input gradient only gather (the adjoint of the neighbour
/// gather is again a gather, from the opposite neighbour), so no two items write the same memory. Each token is
/// processed as five channel segments (four quarters and the unshifted rest), each reading straight from the
/// token it takes its values from, or from a row of zeros past the border: no per-token copies.
/// </summary>
internal static unsafe class TokenShiftMixKernel
{
    /// <summary>Grid geometry and channel split: quarters [0,q) ← left, [q,2q) ← right, [2q,3q) ← above, [3q,4q) ← below.</summary>
    internal readonly record struct Geometry(int B, int H, int W, int C, int Q, int S);

    private const int Segments = 5;

    /// <summary>
    /// Token offsets (in floats, relative to the batch row's start) that the five segments of token (h, w) read, or
    /// -1 past the border. With <paramref name="adjoint"/> the directions are reversed: that is the adjoint of the
    /// gather (each quarter comes back from the token it was sent to).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sources(in Geometry g, int h, int w, bool adjoint, long* offsets)
    {
        int s = adjoint ? -g.S : g.S;
        offsets[0] = Offset(g, h, w - s);   // forward: left neighbour x[h, w-s]
        offsets[1] = Offset(g, h, w + s);   // right neighbour x[h, w+s]
        offsets[2] = Offset(g, h - s, w);   // upper neighbour x[h-s, w]
        offsets[3] = Offset(g, h + s, w);   // lower neighbour x[h+s, w]
        offsets[4] = Offset(g, h, w);       // remainder unshifted
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Offset(in Geometry g, int h, int w) =>
        h < 0 || h >= g.H || w < 0 || w >= g.W ? -1 : (((long)h * g.W) + w) * g.C;

    /// <summary>Channel range [start, end) of segment <paramref name="i"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Start, int End) Range(in Geometry g, int i) => (i * g.Q, i < 4 ? (i + 1) * g.Q : g.C);

    /// <summary>out_m[t] = xx[t] + (x[t] - xx[t])·μ_m for every token of grid row (b, h); <paramref name="zeros"/> holds C zeros.</summary>
    internal static void ForwardRow(float* x, float*[] mu, float*[] outs, float* zeros, in Geometry g, int b, int h)
    {
        int C = g.C, m = mu.Length;
        long batchOffset = (long)b * g.H * g.W * C;
        float* batchX = x + batchOffset;
        long* src = stackalloc long[Segments];
        for (int w = 0; w < g.W; w++)
        {
            long t = (((long)h * g.W) + w) * C;
            Sources(g, h, w, adjoint: false, src);
            float* xt = batchX + t;
            for (int seg = 0; seg < Segments; seg++)
            {
                var (start, end) = Range(g, seg);
                float* xx = src[seg] < 0 ? zeros : batchX + src[seg];
                int c = start;
                for (; c <= end - Vector256<float>.Count; c += Vector256<float>.Count)
                {
                    var vxx = Vector256.Load(xx + c);
                    var d = Vector256.Load(xt + c) - vxx;
                    for (int i = 0; i < m; i++)
                        (vxx + (d * Vector256.Load(mu[i] + c))).Store(outs[i] + batchOffset + t + c);
                }
                for (; c < end; c++)
                {
                    float d = xt[c] - xx[c];
                    for (int i = 0; i < m; i++)
                        outs[i][batchOffset + t + c] = xx[c] + (d * mu[i][c]);
                }
            }
        }
    }

    /// <summary>
    /// For grid row (b, h): gx[t] = Σ_m g_m[t]·μ_m + shiftᵀ(Σ_m g_m·(1-μ_m))[t], and adds Σ_t g_m[t]·(x[t]-xx[t]) to
    /// <paramref name="gmuRow"/> ([m,C], this row's own partial, summed in token order).
    /// </summary>
    internal static void BackwardRow(float* x, float*[] mu, float*[] grads, float* gx, float* gmuRow, float* zeros,
        in Geometry g, int b, int h)
    {
        int C = g.C, m = mu.Length;
        long batchOffset = (long)b * g.H * g.W * C;
        float* batchX = x + batchOffset;
        long* fwd = stackalloc long[Segments];
        long* adj = stackalloc long[Segments];
        for (int w = 0; w < g.W; w++)
        {
            long t = (((long)h * g.W) + w) * C;
            Sources(g, h, w, adjoint: false, fwd);
            Sources(g, h, w, adjoint: true, adj);
            float* xt = batchX + t;
            float* gxt = gx + batchOffset + t;
            for (int seg = 0; seg < Segments; seg++)
            {
                var (start, end) = Range(g, seg);
                float* xx = fwd[seg] < 0 ? zeros : batchX + fwd[seg];
                bool adjInside = adj[seg] >= 0;
                int c = start;
                for (; c <= end - Vector256<float>.Count; c += Vector256<float>.Count)
                {
                    var d = Vector256.Load(xt + c) - Vector256.Load(xx + c);
                    var acc = Vector256<float>.Zero;
                    for (int i = 0; i < m; i++)
                    {
                        var mui = Vector256.Load(mu[i] + c);
                        float* gb = grads[i] + batchOffset;
                        var gi = Vector256.Load(gb + t + c);
                        var ggi = adjInside ? Vector256.Load(gb + adj[seg] + c) : Vector256<float>.Zero;
                        acc += (gi * mui) + (ggi * (Vector256<float>.One - mui));
                        float* gm = gmuRow + ((long)i * C) + c;
                        (Vector256.Load(gm) + (gi * d)).Store(gm);
                    }
                    acc.Store(gxt + c);
                }
                for (; c < end; c++)
                {
                    float d = xt[c] - xx[c];
                    float acc = 0f;
                    for (int i = 0; i < m; i++)
                    {
                        float mui = mu[i][c];
                        float* gb = grads[i] + batchOffset;
                        float gi = gb[t + c];
                        float ggi = adjInside ? gb[adj[seg] + c] : 0f;
                        acc += (gi * mui) + (ggi * (1f - mui));
                        gmuRow[((long)i * C) + c] += gi * d;
                    }
                    gxt[c] = acc;
                }
            }
        }
    }

    /// <summary>Runs <paramref name="body"/>(b, h) for every grid row in parallel.</summary>
    internal static void ForEachRow(in Geometry g, Action<int, int> body)
    {
        int h = g.H;
        Parallel.For(0, g.B * g.H, row => body(row / h, row % h));
    }
}
