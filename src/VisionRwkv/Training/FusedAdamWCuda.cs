using TorchSharp;
using VisionRwkv.Wkv.Cuda;
using VisionRwkv.Cuda;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>
/// The AdamW update of one parameter as one CUDA kernel (compiled at run time with NVRTC like the WKV kernels) instead
/// of nine eager kernels: one thread per element reads p, g, m, v once and writes p, m, v. The arithmetic mirrors the op
/// sequence (<see cref="FusedAdamW.ReferenceUpdate"/>) with explicit roundings, so that the compiler's mul-add
/// contraction cannot change it; CUDA's sqrtf is correctly rounded, LibTorch's CPU sqrt is not, so results agree with
/// the CPU path to about an ulp, not bit for bit.
/// </summary>
internal static class FusedAdamWCuda
{
    internal const string Source = """
        typedef long long i64;

        // Scalars arrive as doubles (every launch argument is 8 bytes) and are rounded to float once, as LibTorch
        // rounds a Scalar for a float tensor.
        extern "C" __global__ void adamw_update(float* __restrict__ p, const float* __restrict__ g,
            float* __restrict__ m, float* __restrict__ v, i64 n, double decay, double beta1, double one_minus_beta1,
            double beta2, double one_minus_beta2, double sqrt_bias_correction2, double eps, double neg_step_size)
        {
            i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x;
            if (i >= n) return;
            float gi = g[i];
            float pi = __fmul_rn(p[i], (float)decay);
            float mi = fmaf(gi, (float)one_minus_beta1, __fmul_rn(m[i], (float)beta1));
            float vi = fmaf(__fmul_rn((float)one_minus_beta2, gi), gi, __fmul_rn(v[i], (float)beta2));
            float d = __fadd_rn(__fdiv_rn(sqrtf(vi), (float)sqrt_bias_correction2), (float)eps);
            p[i] = __fadd_rn(pi, __fdiv_rn(__fmul_rn((float)neg_step_size, mi), d));
            m[i] = mi;
            v[i] = vi;
        }
        """;

    private static readonly CudaKernelModule Module =
        new(Source, "adamw.cu", ["adamw_update"], "the fused CUDA AdamW kernel", "tensor ops");

    /// <summary>
    /// Whether the kernel runs on <paramref name="device"/> (compiled and loaded on first use); on the first failure
    /// prints once why the op sequence runs instead. KernelOptions.CudaAdamW = false turns the fused path off.
    /// </summary>
    internal static bool CanRun(Device device, bool enabled = true) => Module.CanRun(device, enabled);

    /// <summary>p, g, m, v: contiguous float32 tensors of one size on one CUDA device.</summary>
    internal static void Update(Tensor p, Tensor grad, Tensor m, Tensor v, FusedAdamW.Coefficients c)
    {
        long n = p.numel();
        static long D(double x) => BitConverter.DoubleToInt64Bits(x);
        Module.Launch("adamw_update", p, n,
            [CudaKernelModule.Ptr(p), CudaKernelModule.Ptr(grad), CudaKernelModule.Ptr(m), CudaKernelModule.Ptr(v), n,
                D(c.Decay), D(c.Beta1), D(c.OneMinusBeta1), D(c.Beta2), D(c.OneMinusBeta2), D(c.SqrtBiasCorrection2),
                D(c.Eps), D(c.NegStepSize)], 256);
    }
}
