using TorchSharp;
using VisionRwkv.Runtime;
using static TorchSharp.torch;
using static VisionRwkv.Runtime.CpuTensor;

namespace VisionRwkv.Layers;

/// <summary>
/// Q-Shift followed by the token mixes of a block: with xx = <see cref="QShift.Apply"/>(x), each mix μ gives
/// xx + (x - xx)·μ. On contiguous-able float32 CPU tensors this is one fused pass over x with an exact analytic
/// backward (<see cref="TokenShiftMixKernel"/>); elsewhere it is the readable tensor-op composition, which is also the
/// reference the fused path is tested against.
/// </summary>
public static unsafe class TokenShiftMix
{
    /// <param name="x">[B,N,C] tokens, row-major over <paramref name="grid"/>.</param>
    /// <param name="grid">Token grid, N = H*W.</param>
    /// <param name="shiftPixel">Shift distance in patches.</param>
    /// <param name="gamma">Fraction of channels per direction (at most 1/4).</param>
    /// <param name="mixes">Mix coefficients μ, each [1,1,C] (or any shape of C elements).</param>
    /// <returns>One [B,N,C] tensor per mix, in order.</returns>
    public static Tensor[] Apply(Tensor x, PatchGrid grid, int shiftPixel, double gamma, params Tensor[] mixes) =>
        Apply(x, grid, shiftPixel, gamma, KernelOptions.Default, mixes);

    /// <summary>The same, with the fused CUDA path allowed only when <paramref name="kernels"/> says so.</summary>
    public static Tensor[] Apply(Tensor x, PatchGrid grid, int shiftPixel, double gamma, KernelOptions kernels, params Tensor[] mixes)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        if (gamma > 0.25) throw new ArgumentOutOfRangeException(nameof(gamma), "gamma must be at most 1/4");
        if (mixes.Length == 0) throw new ArgumentException("at least one mix coefficient is needed", nameof(mixes));
        if (x.dim() != 3 || x.shape[1] != grid.Tokens)
            throw new ArgumentException($"x must be [B,N,C] with N = {grid.Tokens} for grid {grid}, got [{string.Join(",", x.shape)}]", nameof(x));
        long c = x.shape[2];
        foreach (var mu in mixes)
            if (mu.numel() != c)
                throw new ArgumentException($"every mix must have C = {c} elements, got [{string.Join(",", mu.shape)}]", nameof(mixes));
        return CanFuse(x, mixes, kernels.CudaTokenShift) ? Fused(x, grid, shiftPixel, gamma, mixes) : Reference(x, grid, shiftPixel, gamma, mixes);
    }

    /// <summary>The tensor-op composition (Q-Shift, then addcmul per mix), differentiable through autograd.</summary>
    public static Tensor[] Reference(Tensor x, PatchGrid grid, int shiftPixel, double gamma, params Tensor[] mixes)
    {
        using var scope = NewDisposeScope();
        var xx = QShift.Apply(x, grid, shiftPixel, gamma);   // [B,N,C]
        var d = x - xx;                                      // shared by all mixes
        var outs = new Tensor[mixes.Length];
        for (int i = 0; i < mixes.Length; i++)
            outs[i] = xx.addcmul(d, mixes[i], 1).MoveToOuterDisposeScope();   // = x·μ + xx·(1-μ)
        return outs;
    }

    /// <summary>Whether Apply takes the fused path for these arguments.</summary>
    internal static bool CanFuse(Tensor x, Tensor[] mixes, bool cuda = true) =>
        x.dtype == ScalarType.Float32
        // Device objects compare by reference in TorchSharp: compare type and index.
        && mixes.All(mu => mu.device_type == x.device_type && mu.device_index == x.device_index && mu.dtype == ScalarType.Float32)
        && (x.device_type == DeviceType.CPU
            ? x.shape[0] * x.shape[1] * x.shape[2] <= int.MaxValue
            : mixes.Length <= TokenShiftMixCuda.MaxMixes && TokenShiftMixCuda.CanRun(x.device, cuda));

    private static Tensor[] Fused(Tensor x, PatchGrid grid, int shiftPixel, double gamma, Tensor[] mixes)
    {
        using var scope = NewDisposeScope();
        long c = x.shape[2];
        var geometry = new TokenShiftMixKernel.Geometry((int)x.shape[0], (int)grid.Height, (int)grid.Width, (int)c,
            (int)(c * gamma), shiftPixel);
        // contiguous()/reshape() are autograd ops, so gradients reach the caller's tensors in their own shapes.
        var xc = x.contiguous();
        var mus = mixes.Select(mu => mu.reshape(c).contiguous()).ToArray();
        // Inference runs the kernel without an autograd node (see Autograd.Tracks).
        var outs = Autograd.Tracks([x, .. mixes]) ? [.. Function.apply([xc, .. mus, geometry])] : Forward(xc, mus, geometry);
        return [.. outs.Select(o => o.MoveToOuterDisposeScope())];
    }

    /// <summary>The fused forward kernel on contiguous x [B,N,C] and mixes [C], CPU or CUDA.</summary>
    private static Tensor[] Forward(Tensor x, Tensor[] mixes, TokenShiftMixKernel.Geometry g)
    {
        var outs = mixes.Select(_ => empty_like(x)).ToArray();
        if (x.device_type == DeviceType.CUDA)
        {
            TokenShiftMixCuda.Forward(x, g, mixes, outs);
            return outs;
        }
        float* xp = (float*)Ptr(x);
        var mup = Floats(mixes.Select(Ptr));
        var outp = Floats(outs.Select(Ptr));
        using var zeroRow = zeros(g.C);              // what a segment past the grid border reads
        float* zp = (float*)Ptr(zeroRow);
        TokenShiftMixKernel.ForEachRow(g, (b, h) => TokenShiftMixKernel.ForwardRow(xp, mup, outp, zp, g, b, h));
        return outs;
    }

    private sealed class Function : torch.autograd.MultiTensorFunction<Function>
    {
        public override string Name => "TokenShiftMix";

        public override List<Tensor> forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var g = (TokenShiftMixKernel.Geometry)vars[^1];
            var x = (Tensor)vars[0];
            var mixes = vars[1..^1].Cast<Tensor>().ToArray();
            var outs = Forward(x, mixes, g).ToList();
            // Missing output gradients arrive undefined instead of as cached zeros (see Wkv4Cpu): treated as zero.
            ctx.set_materialize_grads(false);
            ctx.save_for_backward([x, .. mixes]);
            ctx.save_data("geometry", g);
            return outs;
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var g = (TokenShiftMixKernel.Geometry)ctx.get_data("geometry");
            var x = saved[0];
            int m = saved.Count - 1;
            var grads = new Tensor?[m];
            for (int i = 0; i < m; i++)
            {
                var go = i < grad_outputs.Count ? grad_outputs[i] : null;
                grads[i] = go is null || go.IsInvalid ? null : go.to(ScalarType.Float32).contiguous();
            }
            var gx = empty_like(x);
            if (x.device_type == DeviceType.CUDA)
                return CudaBackward(x, g, saved.Skip(1).ToList(), grads, gx);
            var mup = Floats(saved.Skip(1).Select(Ptr));
            // An output without gradient counts as zero (materialised here: it never happens in the models).
            var gradp = grads.Select(gi => Ptr(gi ?? zeros_like(x))).ToArray();
            long rows = (long)g.B * g.H;
            var partials = zeros(rows, m, g.C);             // [rows,m,C]: each grid row's own Σ_t g·(x - xx)
            var zeroRow = zeros(g.C);                       // what a segment past the grid border reads
            float* xp = (float*)Ptr(x), gxp = (float*)Ptr(gx), pp = (float*)Ptr(partials), zp = (float*)Ptr(zeroRow);
            var gradf = Floats(gradp);
            TokenShiftMixKernel.ForEachRow(g, (b, h) =>
                TokenShiftMixKernel.BackwardRow(xp, mup, gradf, gxp, pp + ((((long)b * g.H) + h) * m * g.C), zp, g, b, h));
            // Rows summed in index order on one thread: the result does not depend on thread timing.
            var result = new List<Tensor> { gx.MoveToOuterDisposeScope() };
            for (int i = 0; i < m; i++)
            {
                if (grads[i] is null)
                {
                    result.Add(null!);
                    continue;
                }
                var gmu = zeros(g.C);
                float* gp = (float*)Ptr(gmu);
                for (long r = 0; r < rows; r++)
                {
                    float* src = pp + (((r * m) + i) * g.C);
                    for (int c = 0; c < g.C; c++)
                        gp[c] += src[c];
                }
                result.Add(gmu.MoveToOuterDisposeScope());
            }
            result.Add(null!);                              // the geometry argument has no gradient
            return result;
        }

        private static List<Tensor> CudaBackward(Tensor x, TokenShiftMixKernel.Geometry g, List<Tensor> mixes,
            Tensor?[] grads, Tensor gx)
        {
            TokenShiftMixCuda.BackwardInput(g, mixes, grads, gx);
            var gmu = TokenShiftMixCuda.BackwardMixes(x, g, grads);                 // [3,C]
            var result = new List<Tensor> { gx.MoveToOuterDisposeScope() };
            for (int i = 0; i < mixes.Count; i++)
                result.Add(grads[i] is null ? null! : gmu[i].clone().MoveToOuterDisposeScope());
            result.Add(null!);                              // the geometry argument has no gradient
            return result;
        }
    }

    private static float*[] Floats(IEnumerable<nint> pointers)
    {
        var list = pointers.ToList();
        var result = new float*[list.Count];
        for (int i = 0; i < list.Count; i++)
            result[i] = (float*)list[i];
        return result;
    }
}
