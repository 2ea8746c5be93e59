using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using VisionRwkv.Runtime;
using static TorchSharp.torch;
using static VisionRwkv.Runtime.CpuTensor;

namespace VisionRwkv.Wkv;

/// <summary>
/// The fast CPU path: a custom autograd function whose forward and exact backward are the SIMD loops of
/// <see cref="Wkv4CpuKernel"/>, parallel over (batch row, 8-channel strip). Time O(B·T·C), memory O(B·T·C):
/// it saves k, v, y and ln(denominator) for the backward. Inputs must be contiguous float32 CPU tensors.
/// </summary>
internal static unsafe class Wkv4Cpu
{
    /// <summary>Bidirectional WKV; differentiable in k, v, w, u.</summary>
    public static Tensor Bidirectional(Tensor k, Tensor v, Tensor w, Tensor u)
    {
        if (Autograd.Tracks(k, v, w, u))
            return Function.apply(k, v, w, u, new Options(Causal: false, null))[0];
        return ForwardBidirectional(k, v, w, u, storeLnD: false).Y;     // no autograd node, no ln D
    }

    /// <summary>
    /// Causal WKV from a constant (non-differentiable) initial state; differentiable in k, v, w, u.
    /// Returns y and the kernel's final state (plain values, not differentiable).
    /// </summary>
    public static (Tensor Y, Wkv4Reference.ScanState Final) Causal(Tensor k, Tensor v, Tensor w, Tensor u,
        Wkv4Reference.ScanState state)
    {
        if (Autograd.Tracks(k, v, w, u))
        {
            var box = new FinalState();
            var tracked = Function.apply(k, v, w, u, new Options(Causal: true, state, box))[0];
            return (tracked, box.Value!.Value);
        }
        var (y, _, final) = ForwardCausal(k, v, w, u, Contig(state), storeLnD: false);
        return (y, final);
    }

    /// <summary>Non-tensor arguments of the function (kept out of the autograd graph on purpose).</summary>
    private sealed record Options(bool Causal, Wkv4Reference.ScanState? State, FinalState? Final = null);

    /// <summary>
    /// Where the causal forward leaves the final state. It is not differentiable, so it is handed back beside the
    /// function's outputs rather than as outputs: TorchSharp wraps every output's (undefined) gradient in a managed
    /// tensor for backward, and those wrappers stayed in its live-tensor count, 3 per call.
    /// </summary>
    private sealed class FinalState
    {
        public Wkv4Reference.ScanState? Value { get; set; }
    }

    /// <summary>
    /// Runs the bidirectional kernel: y, and ln(denominator) when <paramref name="storeLnD"/> (null otherwise: the
    /// prefix maxima of pass 1 then live in per-thread scratch instead of a [B,T,C] tensor).
    /// </summary>
    private static (Tensor Y, Tensor? LnD) ForwardBidirectional(Tensor k, Tensor v, Tensor w, Tensor u, bool storeLnD)
    {
        long B = k.shape[0], T = k.shape[1], C = k.shape[2];
        var y = empty_like(k);
        var lnD = storeLnD ? empty_like(k) : null;
        float* wp = (float*)Ptr(w), up = (float*)Ptr(u);
        ForEachStrip(B, T, C, [Ptr(k), Ptr(v), Ptr(y), lnD is null ? 0 : Ptr(lnD)], 2,
            (b, c0, width, p, stride) =>
            {
                const int lanes = Wkv4CpuKernel.Lanes;
                fixed (float* scratch = StripScratch(2 * T * lanes))
                {
                    bool own = p[3] != 0;
                    Wkv4CpuKernel.BidirectionalForward((float*)p[0], (float*)p[1], (float*)p[2],
                        own ? (float*)p[3] : scratch + (T * lanes), own ? stride : lanes, scratch, (int)T, stride,
                        LoadLanes(wp, c0, width), LoadLanes(up, c0, width), storeLnD);
                }
            });
        return (y, lnD);
    }

    [ThreadStatic] private static float[]? _stripScratch;

    /// <summary>
    /// This thread's scratch of at least <paramref name="floats"/> floats, reused across calls: a fresh allocation per
    /// strip went through malloc (or mmap and page faults, for long sequences) once per 8 channels of every row. Pinned, so that
    /// fixed costs nothing; it belongs to the garbage collector, so a thread-pool thread that retires takes it along.
    /// </summary>
    private static float[] StripScratch(long floats)
    {
        if (_stripScratch is null || _stripScratch.LongLength < floats)
            _stripScratch = GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
        return _stripScratch;
    }

    /// <summary>
    /// Runs the causal kernel from <paramref name="state"/> (float32, contiguous: see <see cref="Contig(Wkv4Reference.ScanState)"/>):
    /// y, ln(denominator) (null unless stored), final state.
    /// </summary>
    private static (Tensor Y, Tensor? LnD, Wkv4Reference.ScanState Final) ForwardCausal(Tensor k, Tensor v, Tensor w,
        Tensor u, Wkv4Reference.ScanState state, bool storeLnD)
    {
        long B = k.shape[0], T = k.shape[1], C = k.shape[2];
        var y = empty_like(k);
        var lnD = storeLnD ? empty_like(k) : null;
        float* wp = (float*)Ptr(w), up = (float*)Ptr(u);
        var (a0, b0, p0) = state;
        var (aT, bT, pT) = (empty(B, C), empty(B, C), empty(B, C));
        float* a0p = (float*)Ptr(a0), b0p = (float*)Ptr(b0), p0p = (float*)Ptr(p0);
        float* aTp = (float*)Ptr(aT), bTp = (float*)Ptr(bT), pTp = (float*)Ptr(pT);
        ForEachStrip(B, T, C, [Ptr(k), Ptr(v), Ptr(y), lnD is null ? 0 : Ptr(lnD)], 2,
            (b, c0, width, p, stride) =>
            {
                long row = b * C + c0;
                var sa = LoadLanes(a0p + row, 0, width);
                var sb = LoadLanes(b0p + row, 0, width);
                var sp = LoadLanes(p0p + row, 0, width);
                Wkv4CpuKernel.CausalForward((float*)p[0], (float*)p[1], (float*)p[2], (float*)p[3], (int)T,
                    stride, LoadLanes(wp, c0, width), LoadLanes(up, c0, width), ref sa, ref sb, ref sp);
                StoreLanes(sa, aTp + row, width);
                StoreLanes(sb, bTp + row, width);
                StoreLanes(sp, pTp + row, width);
            });
        return (y, lnD, new Wkv4Reference.ScanState(aT, bT, pT));
    }

    private sealed class Function : torch.autograd.MultiTensorFunction<Function>
    {
        public override string Name => "Wkv4Cpu";

        public override List<Tensor> forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var (k, v, w, u) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var opts = (Options)vars[4];
            List<Tensor> outputs;
            List<Tensor> initial = [];
            Tensor y;
            Tensor? lnD;
            // TorchSharp materialises missing output gradients from cached tensors that the caller's dispose scope
            // may already have freed; take them undefined instead and treat them as zero below.
            ctx.set_materialize_grads(false);
            if (!opts.Causal)
            {
                (y, lnD) = ForwardBidirectional(k, v, w, u, storeLnD: true);
                outputs = [y];
            }
            else
            {
                var s0 = Contig(opts.State!.Value);
                (y, lnD, var final) = ForwardCausal(k, v, w, u, s0, storeLnD: true);
                opts.Final!.Value = final;
                outputs = [y];
                initial = [s0.A, s0.B, s0.P];
            }
            // y.detach(): an alias without the grad_fn the wrapper gives y, so the saved output makes no cycle.
            // Saved, not stored as data: saved variables survive the caller's dispose scope.
            ctx.save_for_backward([k, v, w, u, y.detach(), lnD!, .. initial]);
            ctx.save_data("causal", opts.Causal);
            return outputs;
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            using var scope = torch.NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (k, v, w, u, y, lnD) = (saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]);
            bool causal = (bool)ctx.get_data("causal");
            long B = k.shape[0], T = k.shape[1], C = k.shape[2];
            if (grad_outputs[0] is null || grad_outputs[0].IsInvalid)
                return [null!, null!, null!, null!, null!];                       // y unused: no gradient
            var gy = grad_outputs[0].to(ScalarType.Float32).contiguous();
            var gk = empty_like(k);
            var gv = empty_like(k);
            var gwRows = zeros(B, C);                                            // per batch row, summed below
            var guRows = zeros(B, C);
            float* wp = (float*)Ptr(w), up = (float*)Ptr(u);
            float* gwp = (float*)Ptr(gwRows), gup = (float*)Ptr(guRows);
            nint[] tensors = [Ptr(k), Ptr(v), Ptr(y), Ptr(lnD), Ptr(gy),
                Ptr(gk), Ptr(gv)];
            if (!causal)
            {
                ForEachStrip(B, T, C, tensors, 5, (b, c0, width, p, stride) =>
                {
                    var gw = Vector256<float>.Zero;
                    var gu = Vector256<float>.Zero;
                    Wkv4CpuKernel.BidirectionalBackward((float*)p[0], (float*)p[1], (float*)p[2], (float*)p[3],
                        (float*)p[4], (float*)p[5], (float*)p[6], (int)T, stride, LoadLanes(wp, c0, width),
                        LoadLanes(up, c0, width), ref gw, ref gu);
                    StoreLanes(gw, gwp + b * C + c0, width);
                    StoreLanes(gu, gup + b * C + c0, width);
                });
            }
            else
            {
                var (a0, b0, p0) = (saved[6], saved[7], saved[8]);
                float* a0p = (float*)Ptr(a0), b0p = (float*)Ptr(b0), p0p = (float*)Ptr(p0);
                ForEachStrip(B, T, C, tensors, 5, (b, c0, width, p, stride) =>
                {
                    long row = b * C + c0;
                    var gw = Vector256<float>.Zero;
                    var gu = Vector256<float>.Zero;
                    Wkv4CpuKernel.CausalBackward((float*)p[0], (float*)p[1], (float*)p[2], (float*)p[3],
                        (float*)p[4], (float*)p[5], (float*)p[6], (int)T, stride, LoadLanes(wp, c0, width),
                        LoadLanes(up, c0, width), LoadLanes(a0p + row, 0, width), LoadLanes(b0p + row, 0, width),
                        LoadLanes(p0p + row, 0, width), ref gw, ref gu);
                    StoreLanes(gw, gwp + row, width);
                    StoreLanes(gu, gup + row, width);
                });
            }
            var gwSum = gwRows.sum([0L]);
            var guSum = guRows.sum([0L]);
            // One gradient per forward argument; the Options argument gets none.
            return [gk.MoveToOuterDisposeScope(), gv.MoveToOuterDisposeScope(), gwSum.MoveToOuterDisposeScope(),
                guSum.MoveToOuterDisposeScope(), null!];
        }
    }

    private static Tensor Contig(Tensor t) => t.to(ScalarType.Float32).contiguous();

    /// <summary>The state as the kernels read it: float32, contiguous.</summary>
    private static Wkv4Reference.ScanState Contig(Wkv4Reference.ScanState s) => new(Contig(s.A), Contig(s.B), Contig(s.P));

    /// <summary>Body for one strip: pointers address [b, t=0, c0] of each tensor; tokens are stride floats apart.</summary>
    private delegate void StripBody(long b, long c0, int width, nint[] pointers, int stride);

    /// <summary>
    /// Runs <paramref name="body"/> for every (batch row, 8-channel strip) in parallel. A last strip narrower than 8
    /// channels runs on zero-padded [T,8] copies: the first <paramref name="inputCount"/> tensors are gathered into
    /// them, the others are scattered back afterwards (padded lanes compute finite garbage that is dropped). A zero
    /// address stands for an absent optional tensor and reaches the body as null.
    /// </summary>
    private static void ForEachStrip(long B, long T, long C, nint[] tensors, int inputCount, StripBody body)
    {
        const int lanes = Wkv4CpuKernel.Lanes;
        long strips = (C + lanes - 1) / lanes;
        Parallel.For(0L, B * strips, item =>
        {
            long b = item / strips, c0 = item % strips * lanes;
            int width = (int)Math.Min(lanes, C - c0);
            var pointers = new nint[tensors.Length];
            long offset = (b * T * C + c0) * sizeof(float);
            if (width == lanes)
            {
                for (int i = 0; i < tensors.Length; i++)
                    pointers[i] = tensors[i] == 0 ? 0 : tensors[i] + (nint)offset;
                body(b, c0, width, pointers, (int)C);
                return;
            }
            try
            {
                for (int i = 0; i < tensors.Length; i++)
                {
                    if (tensors[i] == 0) continue;                       // an absent optional output stays null
                    var buf = (float*)NativeMemory.AllocZeroed((nuint)(T * lanes), sizeof(float));
                    pointers[i] = (nint)buf;
                    if (i < inputCount)
                    {
                        var src = (float*)(tensors[i] + (nint)offset);
                        for (long t = 0; t < T; t++)
                            for (int c = 0; c < width; c++)
                                buf[t * lanes + c] = src[t * C + c];
                    }
                }
                body(b, c0, width, pointers, lanes);
                for (int i = inputCount; i < tensors.Length; i++)
                {
                    if (tensors[i] == 0) continue;
                    var dst = (float*)(tensors[i] + (nint)offset);
                    var buf = (float*)pointers[i];
                    for (long t = 0; t < T; t++)
                        for (int c = 0; c < width; c++)
                            dst[t * C + c] = buf[t * lanes + c];
                }
            }
            finally
            {
                foreach (var p in pointers)
                    if (p != 0)
                        NativeMemory.Free((void*)p);
            }
        });
    }

    private static Vector256<float> LoadLanes(float* src, long c0, int width)
    {
        if (width == Wkv4CpuKernel.Lanes)
            return Vector256.Load(src + c0);
        var tmp = stackalloc float[Wkv4CpuKernel.Lanes];
        for (int c = 0; c < Wkv4CpuKernel.Lanes; c++)
            tmp[c] = c < width ? src[c0 + c] : 0f;
        return Vector256.Load(tmp);
    }

    private static void StoreLanes(Vector256<float> x, float* dst, int width)
    {
        if (width == Wkv4CpuKernel.Lanes)
        {
            x.Store(dst);
            return;
        }
        for (int c = 0; c < width; c++)
            dst[c] = x.GetElement(c);
    }
}
