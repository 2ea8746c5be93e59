using TorchSharp;
using VisionRwkv.Runtime;
using VisionRwkv.Cuda;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv.Cuda;

/// <summary>
/// The fast CUDA path: a custom autograd function whose forward and exact analytic backward are the fused kernels of
/// <see cref="WkvCudaKernel"/> (compiled once per process with NVRTC). Time O(B·T·C), memory O(B·T·C): it saves
/// k, v, y and ln(denominator) for the backward. Without gradients it calls the kernels directly. Inputs must be
/// contiguous float32 CUDA tensors (<see cref="Wkv4"/> makes them so).
/// </summary>
public static class Wkv4Cuda
{
    /// <summary>
    /// True when CUDA is available and the fused kernels load on device 0 (driver found, NVRTC found, compiled);
    /// the result is cached.
    /// </summary>
    public static bool IsAvailable => cuda.is_available() && WkvCudaKernel.Kernels.UnavailableReason(0) is null;

    /// <summary>Why the fused kernels cannot run on device 0, or null when they can.</summary>
    public static string? UnavailableReason =>
        cuda.is_available() ? WkvCudaKernel.Kernels.UnavailableReason(0) : "CUDA is not available to LibTorch";

    /// <summary>
    /// Whether the fused kernels can run on <paramref name="device"/>; on the first failure prints once to stderr why
    /// the WKV falls back to the chunked tensor-op algorithm.
    /// </summary>
    internal static bool CanRun(Device device, KernelOptions kernels) => WkvCudaKernel.Kernels.CanRun(device, kernels.CudaWkv);

    /// <summary>Where NVRTC was loaded from, and the NVRTC and driver versions (after a successful load).</summary>
    public static string Describe() =>
        Nvrtc.LoadedFrom is { } path ? $"NVRTC {Nvrtc.Version()} from {path}; CUDA driver {CudaDriver.DriverVersion()}" : "not loaded";

    /// <summary>Bidirectional WKV; differentiable in k, v, w, u.</summary>
    internal static Tensor Bidirectional(Tensor k, Tensor v, Tensor w, Tensor u, long forcedSegments = 0)
    {
        if (!Autograd.Tracks(k, v, w, u))
        {
            var y = empty_like(k);
            using var lnD = empty_like(k);                             // pass-1 scratch here
            WkvCudaKernel.BidirectionalForward(k, v, w, u, y, lnD, forcedSegments);
            return y;
        }
        return Function.apply(k, v, w, u, new Options(Causal: false, null, forcedSegments))[0];
    }

    /// <summary>
    /// Causal WKV from a constant (non-differentiable) initial state; differentiable in k, v, w, u.
    /// Returns y and the kernel's final state (plain values, not differentiable).
    /// </summary>
    internal static (Tensor Y, Wkv4Reference.ScanState Final) Causal(Tensor k, Tensor v, Tensor w, Tensor u,
        Wkv4Reference.ScanState state)
    {
        if (!Autograd.Tracks(k, v, w, u))
        {
            long B = k.shape[0], C = k.shape[2];
            var y = empty_like(k);
            var (aT, bT, pT) = (empty(B, C, device: k.device), empty(B, C, device: k.device), empty(B, C, device: k.device));
            WkvCudaKernel.CausalForward(k, v, w, u, y, null, Contig(state.A), Contig(state.B), Contig(state.P), aT, bT, pT);
            return (y, new Wkv4Reference.ScanState(aT, bT, pT));
        }
        var box = new FinalState();
        var tracked = Function.apply(k, v, w, u, new Options(Causal: true, state, Final: box))[0];
        return (tracked, box.Value!.Value);
    }

    private static Tensor Contig(Tensor t) => t.to(ScalarType.Float32).contiguous();

    /// <summary>Non-tensor arguments of the function (kept out of the autograd graph on purpose).</summary>
    private sealed record Options(bool Causal, Wkv4Reference.ScanState? State, long ForcedSegments = 0, FinalState? Final = null);

    /// <summary>
    /// Where the causal forward leaves the (non-differentiable) final state: beside the function's output rather than
    /// as outputs, whose undefined gradients TorchSharp would wrap in tensors that stay in its live count (as in Wkv4Cpu).
    /// </summary>
    private sealed class FinalState
    {
        public Wkv4Reference.ScanState? Value { get; set; }
    }

    private sealed class Function : torch.autograd.MultiTensorFunction<Function>
    {
        public override string Name => "Wkv4Cuda";

        public override List<Tensor> forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var (k, v, w, u) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var opts = (Options)vars[4];
            long B = k.shape[0], C = k.shape[2];
            var y = empty_like(k);
            var lnD = empty_like(k);
            List<Tensor> outputs;
            List<Tensor> initial = [];
            // As in Wkv4Cpu: take missing output gradients as undefined (treated as zero) rather than materialised.
            ctx.set_materialize_grads(false);
            if (!opts.Causal)
            {
                WkvCudaKernel.BidirectionalForward(k, v, w, u, y, lnD, opts.ForcedSegments);
                outputs = [y];
            }
            else
            {
                var s = opts.State!.Value;
                var (a0, b0, p0) = (Contig(s.A), Contig(s.B), Contig(s.P));
                var (aT, bT, pT) = (empty(B, C, device: k.device), empty(B, C, device: k.device), empty(B, C, device: k.device));
                WkvCudaKernel.CausalForward(k, v, w, u, y, lnD, a0, b0, p0, aT, bT, pT);
                opts.Final!.Value = new Wkv4Reference.ScanState(aT, bT, pT);
                outputs = [y];
                initial = [a0, b0, p0];
            }
            // y.detach(): an alias without the grad_fn the wrapper gives y, so the saved output makes no cycle.
            ctx.save_for_backward([k, v, w, u, y.detach(), lnD, .. initial]);
            ctx.save_data("causal", opts.Causal);
            return outputs;
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            using var scope = torch.NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (k, v, w, u, y, lnD) = (saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]);
            bool causal = (bool)ctx.get_data("causal");
            long B = k.shape[0], C = k.shape[2];
            if (grad_outputs[0] is null || grad_outputs[0].IsInvalid)
                return [null!, null!, null!, null!, null!];                       // y unused: no gradient
            var gy = grad_outputs[0].to(ScalarType.Float32).contiguous();
            var gk = empty_like(k);
            var gv = empty_like(k);
            var gwRows = empty(B, C, device: k.device);                          // per batch row, summed below
            var guRows = empty(B, C, device: k.device);
            if (!causal)
                WkvCudaKernel.BidirectionalBackward(k, v, w, u, y, lnD, gy, gk, gv, gwRows, guRows);
            else
                WkvCudaKernel.CausalBackward(k, v, w, u, y, lnD, gy, gk, gv, saved[6], saved[7], saved[8], gwRows, guRows);
            var gw = gwRows.sum([0L]);
            var gu = guRows.sum([0L]);
            // One gradient per forward argument; the Options argument gets none.
            return [gk.MoveToOuterDisposeScope(), gv.MoveToOuterDisposeScope(), gw.MoveToOuterDisposeScope(),
                gu.MoveToOuterDisposeScope(), null!];
        }
    }
}
