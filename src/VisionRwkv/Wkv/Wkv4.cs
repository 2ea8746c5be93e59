using TorchSharp;
using VisionRwkv.Wkv.Cuda;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv;

/// <summary>
/// RWKV-4 style WKV, shared by the Vision-RWKV backbone (bidirectional) and the RWKV-4 language model (causal).
/// Inputs of any float dtype are computed in float32 and returned in k's dtype, except float64 inputs, which are
/// computed in float64 by the chunked tensor ops (or the reference) so that float64 checks of the models built on
/// the core (parallel against recurrent, gradients against a plain loop) reach float64 precision; the fused kernels
/// are float32 only. w and u are used as given: the
/// vision model passes spatial_decay/T and spatial_first/T (w may be negative), the language model exp(time_decay)
/// and time_first. Every exp is of a difference against a running or detached maximum, so any finite input gives a
/// finite output. Fast path: fused SIMD kernels with an exact analytic backward on CPU (<see cref="Wkv4Cpu"/>), fused
/// CUDA kernels compiled at run time on CUDA (<see cref="Wkv4Cuda"/>; when they cannot load, a one-time message on
/// stderr says why), the chunked tensor-op algorithm elsewhere (<see cref="Wkv4Chunked"/>); reference: a serial scan
/// in tensor ops.
/// </summary>
public static class Wkv4
{
    /// <summary>
    /// y_t = (Σ_{i≠t} e^{-(|t-i|-1)w+k_i} v_i + e^{u+k_t} v_t) / (Σ_{i≠t} e^{-(|t-i|-1)w+k_i} + e^{u+k_t}).
    /// k, v: [B,T,C]; w, u: [C]. Returns [B,T,C] in k's dtype. kernels says which fused CUDA kernels may run (default: all).
    /// </summary>
    public static Tensor Bidirectional(Tensor k, Tensor v, Tensor w, Tensor u,
        WkvImplementation impl = WkvImplementation.Auto, WkvCompat compat = WkvCompat.Exact, KernelOptions? kernels = null)
    {
        kernels ??= KernelOptions.Default;
        CheckSequence(k, v, w, u);
        using var scope = torch.NewDisposeScope();
        var dt = ComputeType(k);
        var (k32, v32, w32, u32) = (As(k, dt), As(v, dt), As(w, dt), As(u, dt));
        Tensor y;
        if (compat == WkvCompat.OfficialOldKernel)
            y = Wkv4Chunked.OfficialOldKernelBidirectional(k32, v32, w32, u32);
        else if (impl == WkvImplementation.Reference)
            y = Wkv4Reference.Bidirectional(k32, v32, w32, u32);
        else if (impl == WkvImplementation.Chunked || dt == ScalarType.Float64)
            y = new Wkv4Chunked().Bidirectional(k32, v32, w32, u32);
        else if (k.device_type == DeviceType.CPU)
            y = Wkv4Cpu.Bidirectional(k32, v32, w32, u32);
        else if (Wkv4Cuda.CanRun(k.device, kernels))
            y = Wkv4Cuda.Bidirectional(k32, v32, w32, u32, kernels.CudaWkvSegments);
        else
            y = new Wkv4Chunked().Bidirectional(k32, v32, w32, u32);
        return y.to(k.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// y_t = (Σ_{i&lt;t} e^{-(t-1-i)w+k_i} v_i + e^{u+k_t} v_t) / (Σ_{i&lt;t} e^{-(t-1-i)w+k_i} + e^{u+k_t}), continuing
    /// from <paramref name="state"/> (the empty state when null) as if its tokens came before k. k, v: [B,T,C];
    /// w (&gt; 0), u: [C]. Returns y in k's dtype and the state after the last token (float32 [B,C] each, float64 for float64 inputs), which is
    /// differentiable in k, v, w and the input state. If the input state requires grad, the fused CPU and CUDA paths fall
    /// back to the chunked tensor-op algorithm (the fused kernels treat the initial state as a constant).
    /// <paramref name="differentiableState"/> false returns the final state detached, as the fused kernels compute it,
    /// and skips the tensor ops that make it differentiable (an exp and a sum over [B,T,C] plus their autograd
    /// records): for callers that use only y, such as training from the empty state.
    /// </summary>
    public static (Tensor Y, Wkv4State Final) Causal(Tensor k, Tensor v, Tensor w, Tensor u,
        Wkv4State? state = null, WkvImplementation impl = WkvImplementation.Auto, bool differentiableState = true,
        KernelOptions? kernels = null)
    {
        kernels ??= KernelOptions.Default;
        CheckSequence(k, v, w, u);
        using var scope = torch.NewDisposeScope();
        var dt = ComputeType(k);
        var (k32, v32, w32, u32) = (As(k, dt), As(v, dt), As(w, dt), As(u, dt));
        var s0 = ToScan(state, k.shape[0], k.shape[2], k.device, dt);
        Tensor y;
        Wkv4Reference.ScanState final;
        bool stateNeedsGrad = s0.A.requires_grad || s0.B.requires_grad || s0.P.requires_grad;
        if (impl == WkvImplementation.Reference)
            (y, final) = Wkv4Reference.Causal(k32, v32, w32, u32, s0);
        else if (impl != WkvImplementation.Chunked && !stateNeedsGrad && dt == ScalarType.Float32 &&
                 (k.device_type == DeviceType.CPU || Wkv4Cuda.CanRun(k.device, kernels)))
        {
            (y, final) = k.device_type == DeviceType.CPU
                ? Wkv4Cpu.Causal(k32, v32, w32, u32, s0)
                : Wkv4Cuda.Causal(k32, v32, w32, u32, s0);
            if (differentiableState && Autograd.Tracks(k32, v32, w32))
                final = FinalState(k32, v32, w32, s0);
        }
        else
            (y, final) = new Wkv4Chunked().Causal(k32, v32, w32, u32, s0);
        var next = differentiableState
            ? new Wkv4State(final.A, final.B, final.P)
            : new Wkv4State(final.A.detach(), final.B.detach(), final.P.detach());
        next.MoveToOuterDisposeScope();
        return (y.to(k.dtype).MoveToOuterDisposeScope(), next);
    }

    /// <summary>
    /// One token in RNN mode: k, v [B,C]; returns y [B,C] in k's dtype and the next state. T successive steps equal
    /// one <see cref="Causal"/> call over the T tokens.
    /// </summary>
    public static (Tensor Y, Wkv4State Next) Step(Tensor k, Tensor v, Tensor w, Tensor u, Wkv4State? state)
    {
        if (k.dim() != 2 || !k.shape.SequenceEqual(v.shape))
            throw new ArgumentException($"Wkv4.Step expects k and v of shape [B,C]; got k [{string.Join(",", k.shape)}], v [{string.Join(",", v.shape)}].");
        CheckChannels(w, u, k.shape[1]);
        using var scope = torch.NewDisposeScope();
        var dt = ComputeType(k);
        var (k32, v32, w32, u32) = (As(k, dt), As(v, dt), As(w, dt), As(u, dt));
        var s = ToScan(state, k.shape[0], k.shape[1], k.device, dt);
        var y = Wkv4Reference.Combine(u32 + k32, v32, s);
        var n = Wkv4Reference.Push(s, k32, v32, w32);
        var next = new Wkv4State(n.A, n.B, n.P).MoveToOuterDisposeScope();
        return (y.to(k.dtype).MoveToOuterDisposeScope(), next);
    }

    /// <summary>The empty state: Num = Den = 0, MaxLog = -1e30 (finite, so differences of maxima never give NaN).</summary>
    public static Wkv4State InitialState(long batch, long channels, Device? device = null) =>
        new(zeros(batch, channels, device: device), zeros(batch, channels, device: device),
            full(batch, channels, Wkv4Reference.Neg, device: device));

    /// <summary>
    /// The state after the sequence as tensor ops, so that it is differentiable when the fused kernel computed y:
    /// S_T = e^{-Tw}·S_0 + Σ_i e^{k_i-(T-1-i)w}(v_i, 1), scaled by its detached maximum.
    /// </summary>
    private static Wkv4Reference.ScanState FinalState(Tensor k, Tensor v, Tensor w, Wkv4Reference.ScanState s0)
    {
        long T = k.shape[1];
        var dist = arange(T - 1, -1, -1, dtype: k.dtype, device: k.device).view(1, -1, 1);   // T-1-i
        var logits = k - dist * w;                                                  // [B,T,C]
        var carried = s0.P - T * w;                                                 // [B,C]
        var p = maximum(logits.amax([1]), carried).detach();
        var e = exp(logits - p.unsqueeze(1));
        var ec = exp(carried - p);
        return new Wkv4Reference.ScanState(ec * s0.A + (e * v).sum(1), ec * s0.B + e.sum(1), p);
    }

    private static Wkv4Reference.ScanState ToScan(Wkv4State? state, long batch, long channels, Device device, ScalarType dt)
    {
        if (state is null)
            return Wkv4Reference.Empty(batch, channels, dt, device);
        foreach (var (name, t) in new[] { ("Num", state.Num), ("Den", state.Den), ("MaxLog", state.MaxLog) })
            if (t.dim() != 2 || t.shape[0] != batch || t.shape[1] != channels)
                throw new ArgumentException(
                    $"Wkv4State.{name} must have shape [{batch},{channels}]; got [{string.Join(",", t.shape)}].", nameof(state));
        return new(As(state.Num, dt), As(state.Den, dt), As(state.MaxLog, dt));
    }

    private static void CheckSequence(Tensor k, Tensor v, Tensor w, Tensor u)
    {
        if (k.dim() != 3 || !k.shape.SequenceEqual(v.shape))
            throw new ArgumentException(
                $"WKV expects k and v of shape [B,T,C]; got k [{string.Join(",", k.shape)}], v [{string.Join(",", v.shape)}].");
        if (!k.is_floating_point() || !v.is_floating_point())
            throw new ArgumentException($"WKV expects floating-point k and v; got {k.dtype} and {v.dtype}.");
        CheckChannels(w, u, k.shape[2]);
    }

    private static void CheckChannels(Tensor w, Tensor u, long channels)
    {
        if (w.dim() != 1 || w.shape[0] != channels || u.dim() != 1 || u.shape[0] != channels)
            throw new ArgumentException(
                $"WKV expects w and u of shape [{channels}]; got w [{string.Join(",", w.shape)}], u [{string.Join(",", u.shape)}].");
    }

    /// <summary>float64 for float64 inputs (exact checks), float32 for every other dtype (the fused kernels' type).</summary>
    private static ScalarType ComputeType(Tensor k) =>
        k.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>In the compute type and contiguous (the fused kernel reads raw memory); a no-op for such tensors.</summary>
    private static Tensor As(Tensor t, ScalarType dt) => t.to(dt).contiguous();
}
