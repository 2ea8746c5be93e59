using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;
using static VisionRwkv.Runtime.CpuTensor;

namespace VisionRwkv.Training;

/// <summary>
/// TorchSharp's AdamW (same parameter groups, options, state and checkpoint format; a drop-in subclass) with the
/// per-parameter update fused and gradients released rather than zeroed (<see cref="zero_grad"/>). TorchSharp's step
/// runs nine tensor ops per parameter and creates about six native Scalars that only the finalizer frees; for a small
/// model it is all dispatch overhead (vrwkv_mini_28's 63 tensors: 14.9 ms per step against 3.8 ms fused, in a
/// microbenchmark on the 2-core build machine), and on a GPU it is nine kernel launches per parameter.
/// Here: on x86-64 CPUs with FMA, two SIMD passes and one LibTorch sqrt per parameter, with the same bits as
/// TorchSharp's AdamW (LibTorch's float sqrt is not correctly rounded on this build, so it is the one op kept); on
/// CUDA, one kernel per parameter (<see cref="FusedAdamWCuda"/>; close to, not bit-equal with, the op sequence). Other dtypes and devices
/// run <see cref="ReferenceUpdate"/>, the op sequence itself. AMSGrad and maximize are not supported.
/// </summary>
public sealed class FusedAdamW : AdamW
{
    public FusedAdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : base(groups, lr, beta1, beta2, eps, weightDecay)
    {
        // Checked after the base constructor: an optimizer has a finalizer, which must find a constructed object.
        if (ParamGroups.Cast<ParamGroup>().Any(g => g.Options.amsgrad == true || g.Options.maximize == true))
        {
            Dispose();
            throw new NotSupportedException("FusedAdamW supports neither AMSGrad nor maximize; use TorchSharp's AdamW.");
        }
    }

    /// <summary>One parameter group over all of <paramref name="parameters"/>.</summary>
    public FusedAdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : this([new ParamGroup(parameters, lr, beta1, beta2, eps, weightDecay)], lr, beta1, beta2, eps, weightDecay)
    {
    }

    /// <summary>The scalars of one update, in the order TorchSharp's AdamW applies them.</summary>
    /// <param name="Decay">1 - lr·weight_decay, the decoupled weight decay factor.</param>
    /// <param name="Beta1">β1 (first moment).</param>
    /// <param name="OneMinusBeta1">1 - β1, computed in double as TorchSharp does.</param>
    /// <param name="Beta2">β2 (second moment).</param>
    /// <param name="OneMinusBeta2">1 - β2.</param>
    /// <param name="SqrtBiasCorrection2">√(1 - β2^step).</param>
    /// <param name="Eps">Added to the denominator after the bias correction.</param>
    /// <param name="NegStepSize">-lr / (1 - β1^step).</param>
    public readonly record struct Coefficients(double Decay, double Beta1, double OneMinusBeta1, double Beta2,
        double OneMinusBeta2, double SqrtBiasCorrection2, double Eps, double NegStepSize)
    {
        public static Coefficients For(Options o, long step)
        {
            double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value;
            return new(1 - lr * o.weight_decay!.Value, beta1, 1 - beta1, beta2, 1 - beta2,
                Math.Sqrt(1 - Math.Pow(beta2, step)), o.eps!.Value, -(lr / (1 - Math.Pow(beta1, step))));
        }
    }

    /// <summary>
    /// Releases the gradients instead of zeroing them in place (PyTorch's set_to_none, its default since 2.0): the next
    /// backward writes fresh gradient tensors, which saves a zero-fill and an accumulating add per parameter and step
    /// (two kernel launches on a GPU) and holds no gradient memory between steps. The values are the same
    /// (0 + g = g). One difference: a parameter that receives no gradient in a step is skipped by <see cref="step"/>,
    /// where zeroed gradients would still decay it.
    /// </summary>
    public override void zero_grad()
    {
        foreach (var p in parameters())
            p.grad = null;
    }

    /// <summary>Every parameter takes <see cref="ReferenceUpdate"/> (for tests).</summary>
    internal bool ReferenceOnly { get; init; }

    /// <summary>Whether the fused CUDA kernel may run for CUDA parameters (else the op sequence does).</summary>
    public bool UseCudaKernel { get; init; } = true;

    public override Tensor step(Func<Tensor>? closure = null) =>
        _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            foreach (var param in group.Parameters)
            {
                using var grad = param.grad;
                if (grad is null) continue;
                var state = (State)_state[param.Handle];
                state.step += 1;
                var c = Coefficients.For(options, state.step);
                if (ReferenceOnly)
                    ReferenceUpdate(param, grad, state.exp_avg, state.exp_avg_sq, c);
                else
                    Update(param, grad, state.exp_avg, state.exp_avg_sq, c, UseCudaKernel);
            }
        }, closure);

    /// <summary>One AdamW update of <paramref name="p"/>, <paramref name="m"/> (exp_avg) and <paramref name="v"/> (exp_avg_sq), in place.</summary>
    public static void Update(Tensor p, Tensor grad, Tensor m, Tensor v, Coefficients c) => Update(p, grad, m, v, c, true);

    private static void Update(Tensor p, Tensor grad, Tensor m, Tensor v, Coefficients c, bool cuda)
    {
        if (FusableElementwise(p, grad, m, v))
            CpuUpdate(p, grad, m, v, c);
        else if (p.device_type == DeviceType.CUDA && Fusable(p, grad, m, v) && FusedAdamWCuda.CanRun(p.device, cuda))
            FusedAdamWCuda.Update(p, grad, m, v, c);
        else
            ReferenceUpdate(p, grad, m, v, c);
    }

    /// <summary>TorchSharp's AdamW update as it is written there: nine tensor ops. The reference for the fused paths.</summary>
    public static void ReferenceUpdate(Tensor p, Tensor grad, Tensor m, Tensor v, Coefficients c)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        p.mul_(c.Decay);
        m.mul_(c.Beta1).add_(grad, alpha: c.OneMinusBeta1);
        v.mul_(c.Beta2).addcmul_(grad, grad, value: c.OneMinusBeta2);
        var denom = (v.sqrt() / c.SqrtBiasCorrection2).add_(c.Eps);
        p.addcdiv_(m, denom, value: c.NegStepSize);
    }

    // TorchSharp's Device has no value equality, hence type and index.
    private static bool Fusable(Tensor p, Tensor grad, Tensor m, Tensor v) =>
        new[] { p, grad, m, v }.All(t => t.dtype == ScalarType.Float32 && t.is_contiguous() &&
            t.device_type == p.device_type && t.device_index == p.device_index) &&
        grad.numel() == p.numel() && m.numel() == p.numel() && v.numel() == p.numel();


    /// <summary>
    /// The CPU update. Per element, exactly what LibTorch's CPU kernels compute for the op sequence (checked bit for bit
    /// in the tests): scalars rounded to float, add_ with alpha and addcmul_ fused into one fma each, addcdiv_ as
    /// p + (s·m)/d. Pass 1 updates p's decay, m and v; LibTorch takes √v; pass 2 finishes p.
    /// </summary>
    private static unsafe void CpuUpdate(Tensor p, Tensor grad, Tensor m, Tensor v, Coefficients c)
    {
        float* pp = (float*)Ptr(p), gp = (float*)Ptr(grad), mp = (float*)Ptr(m), vp = (float*)Ptr(v);
        float decay = (float)c.Decay, b1 = (float)c.Beta1, a1 = (float)c.OneMinusBeta1;
        float b2 = (float)c.Beta2, a2 = (float)c.OneMinusBeta2;
        ForEachChunk(p.numel(), (start, end) =>
        {
            long i = start;
            var (vDecay, vB1, vA1, vB2, vA2) =
                (Vector256.Create(decay), Vector256.Create(b1), Vector256.Create(a1), Vector256.Create(b2), Vector256.Create(a2));
            for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var g = Vector256.Load(gp + i);
                (Vector256.Load(pp + i) * vDecay).Store(pp + i);
                Vector256.FusedMultiplyAdd(g, vA1, Vector256.Load(mp + i) * vB1).Store(mp + i);
                Vector256.FusedMultiplyAdd(vA2 * g, g, Vector256.Load(vp + i) * vB2).Store(vp + i);
            }
            for (; i < end; i++)
            {
                float g = gp[i];
                pp[i] *= decay;
                mp[i] = MathF.FusedMultiplyAdd(g, a1, mp[i] * b1);
                vp[i] = MathF.FusedMultiplyAdd(a2 * g, g, vp[i] * b2);
            }
        });
        using var root = v.sqrt();
        float* sp = (float*)Ptr(root);
        float bc2 = (float)c.SqrtBiasCorrection2, eps = (float)c.Eps, step = (float)c.NegStepSize;
        ForEachChunk(p.numel(), (start, end) =>
        {
            long i = start;
            var (vBc2, vEps, vStep) = (Vector256.Create(bc2), Vector256.Create(eps), Vector256.Create(step));
            for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var d = Vector256.Load(sp + i) / vBc2 + vEps;
                (Vector256.Load(pp + i) + vStep * Vector256.Load(mp + i) / d).Store(pp + i);
            }
            for (; i < end; i++)
            {
                float d = sp[i] / bc2 + eps;
                pp[i] += step * mp[i] / d;
            }
        });
    }
}
