using System.Globalization;
using VisionRwkv.Runtime;

namespace VisionRwkv.Cli;

/// <summary>
/// The one place the CLI reads kernel switches from the environment (once, at start-up), so that scripts such as
/// scripts/gpu-measure.sh can switch a fused CUDA kernel off to measure what it buys: RWKV_WKV_CUDA=0, RWKV_TSM_CUDA=0,
/// RWKV_ADAMW_CUDA=0, and RWKV_WKV_SEGMENTS=N (fixed segment count for the bidirectional CUDA WKV). The library only
/// ever sees the resulting <see cref="KernelOptions"/>.
/// </summary>
internal static class KernelSwitches
{
    public static KernelOptions FromEnvironment() => new()
    {
        CudaWkv = Environment.GetEnvironmentVariable("RWKV_WKV_CUDA") != "0",
        CudaTokenShift = Environment.GetEnvironmentVariable("RWKV_TSM_CUDA") != "0",
        CudaAdamW = Environment.GetEnvironmentVariable("RWKV_ADAMW_CUDA") != "0",
        CudaWkvSegments = long.TryParse(Environment.GetEnvironmentVariable("RWKV_WKV_SEGMENTS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0,
    };
}
