using System.Runtime.Intrinsics;
using TorchSharp;
using VisionRwkv.Runtime;
using static TorchSharp.torch;
using static VisionRwkv.Runtime.CpuTensor;

namespace VisionRwkv.Layers;

/// <summary>
/// relu(x)², the Channel Mix activation. On contiguous float32 CPU tensors it is one SIMD pass forward and one
/// backward (gx = 2·relu(x)·g) that keeps only x for the backward; LibTorch's relu().square() runs three element-wise
/// passes backward over the [B,N,4C] hidden tensor and keeps two tensors alive. Elsewhere it is that composition,
/// which is also the reference the fused path is tested against.
/// </summary>
public static unsafe class SquaredRelu
{
    /// <summary>relu(x)², differentiable in x.</summary>
    /// <param name="x">Any shape.</param>
    /// <param name="overwriteInput">
    /// The caller will not read x again: where no gradient is tracked, the result is written over x's memory (a new
    /// handle on the same storage, so disposing x's handle leaves the result intact). Saves a tensor of x's size at the
    /// peak of inference. With gradients it is ignored.
    /// </param>
    public static Tensor Apply(Tensor x, bool overwriteInput = false)
    {
        bool fused = x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32 && x.numel() <= int.MaxValue / sizeof(float);
        if (Autograd.Tracks(x))
            return fused ? Function.apply(x.contiguous())[0] : Reference(x);
        if (overwriteInput && x.is_contiguous())
        {
            if (fused) Forward(x, x);
            else x.relu_().pow_(2);
            return x.view(x.shape);
        }
        if (!fused) return Reference(x);
        // Inference calls the kernel without an autograd node (see Autograd.Tracks).
        using var xc = x.contiguous();
        var y = empty_like(xc);
        Forward(xc, y);
        return y;
    }

    /// <summary>The tensor-op composition.</summary>
    public static Tensor Reference(Tensor x) => x.relu().square();

    /// <summary>y = relu(x)² on contiguous float32 CPU tensors of equal size; y may be x.</summary>
    private static void Forward(Tensor x, Tensor y)
    {
        float* xp = (float*)Ptr(x), yp = (float*)Ptr(y);
        ForEachChunk(x.numel(), (start, end) =>
        {
            long i = start;
            for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var r = Vector256.Max(Vector256.Load(xp + i), Vector256<float>.Zero);
                (r * r).Store(yp + i);
            }
            for (; i < end; i++)
            {
                float r = MathF.Max(xp[i], 0f);
                yp[i] = r * r;
            }
        });
    }

    private sealed class Function : torch.autograd.MultiTensorFunction<Function>
    {
        public override string Name => "SquaredRelu";

        public override List<Tensor> forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var y = empty_like(x);
            Forward(x, y);
            ctx.save_for_backward([x]);
            return [y];
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            var x = ctx.get_saved_variables()[0];
            using var g = grad_outputs[0].to(ScalarType.Float32).contiguous();
            var gx = empty_like(x);
            float* xp = (float*)Ptr(x), gp = (float*)Ptr(g), gxp = (float*)Ptr(gx);
            ForEachChunk(x.numel(), (start, end) =>
            {
                long i = start;
                var two = Vector256.Create(2f);
                for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var r = Vector256.Max(Vector256.Load(xp + i), Vector256<float>.Zero);
                    (two * r * Vector256.Load(gp + i)).Store(gxp + i);
                }
                for (; i < end; i++)
                    gxp[i] = 2f * MathF.Max(xp[i], 0f) * gp[i];
            });
            return [gx];
        }
    }
}
