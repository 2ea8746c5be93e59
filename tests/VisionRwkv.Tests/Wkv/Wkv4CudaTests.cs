using TorchSharp;
using VisionRwkv.Wkv;
using VisionRwkv.Diagnostics;
using VisionRwkv.Wkv.Cuda;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Wkv;

/// <summary>A fact that runs only where LibTorch sees a CUDA device (never on the CPU-only build and CI machines).</summary>
internal sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!cuda.is_available())
            Skip = "CUDA is not available to LibTorch on this machine: the fused CUDA WKV kernel is not tested here.";
    }
}

/// <summary>A theory that runs only where LibTorch sees a CUDA device.</summary>
internal sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (!cuda.is_available())
            Skip = "CUDA is not available to LibTorch on this machine: the fused CUDA WKV kernel is not tested here.";
    }
}

/// <summary>The fused CUDA WKV (forward and all four gradients) against the float64 serial scan and the chunked ops.</summary>
public class Wkv4CudaTests
{
    private delegate Tensor Forward(Tensor k, Tensor v, Tensor w, Tensor u);

    /// <summary>y and the gradients of L = Σ y·r in k, v, w, u, computed on CUDA in <paramref name="dtype"/>.</summary>
    private static double[][] Outputs(WkvCase c, ScalarType dtype, Forward f)
    {
        using var scope = NewDisposeScope();
        Tensor Leaf(Tensor cpu) => cpu.to(dtype).cuda().detach().requires_grad_();
        var (k, v, w, u) = (Leaf(c.Kt()), Leaf(c.Vt()), Leaf(c.Wt()), Leaf(c.Ut()));
        var r = randn(new long[] { c.B, c.T, c.C }, generator: new Generator(42)).to(dtype).cuda();
        var y = f(k, v, w, u);
        (y * r).sum().backward();
        return [WkvAssert.ToDoubles(y), G(k), G(v), G(w), G(u)];
    }

    private static double[] G(Tensor x) => x.grad is null ? new double[x.numel()] : WkvAssert.ToDoubles(x.grad);

    private static void AllClose(double[][] expected, double[][] actual, double atol, double rtol, string what)
    {
        string[] names = ["y", "dk", "dv", "dw", "du"];
        for (int i = 0; i < names.Length; i++)
        {
            // w and u gradients sum over B·T terms: scale the absolute tolerance by their size.
            double scale = i >= 3 ? Math.Max(1, expected[i].Max(Math.Abs)) : 1;
            WkvAssert.Close(expected[i], actual[i], atol * scale, rtol, $"{what} {names[i]}");
        }
    }

    private static Wkv4Reference.ScanState Start(Tensor k) =>
        Wkv4Reference.Empty(k.shape[0], k.shape[2], k.dtype, k.device);

    private static void CheckBidirectional(int T, double tol)
    {
        var c = new WkvCase(seed: 800 + T, b: 2, t: T, c: 40, kMax: 8, wMin: -5.0 / T, wMax: 5.0 / T);
        var expected = Outputs(c, ScalarType.Float64, Wkv4Reference.Bidirectional);
        var fused = Outputs(c, ScalarType.Float32, (k, v, w, u) => Wkv4Cuda.Bidirectional(k, v, w, u));
        AllClose(expected, fused, tol, tol, $"fused T={T}");
        var chunked = Outputs(c, ScalarType.Float32, (k, v, w, u) => new Wkv4Chunked(16).Bidirectional(k, v, w, u));
        AllClose(expected, chunked, tol, tol, $"chunked T={T}");
    }

    private static void CheckCausal(int T, double tol)
    {
        var c = new WkvCase(seed: 900 + T, b: 2, t: T, c: 40, kMax: 8, wMin: 1e-3, wMax: 3);
        var expected = Outputs(c, ScalarType.Float64, (k, v, w, u) => Wkv4Reference.Causal(k, v, w, u, Start(k)).Y);
        var fused = Outputs(c, ScalarType.Float32, (k, v, w, u) => Wkv4Cuda.Causal(k, v, w, u, Start(k)).Y);
        AllClose(expected, fused, tol, tol, $"fused T={T}");
        var chunked = Outputs(c, ScalarType.Float32, (k, v, w, u) => new Wkv4Chunked(16).Causal(k, v, w, u, Start(k)).Y);
        AllClose(expected, chunked, tol, tol, $"chunked T={T}");
    }

    [CudaFact]
    public void The_fused_kernel_compiles_and_loads_on_this_GPU()
    {
        Assert.True(Wkv4Cuda.IsAvailable, $"fused CUDA WKV unavailable: {Wkv4Cuda.UnavailableReason}");
    }

    [CudaFact]
    public void Every_row_of_the_on_device_check_passes_token_shift_included()
    {
        var rows = KernelCheck.Run(CUDA);
        Assert.Contains(rows, r => r.Case.StartsWith("token-shift", StringComparison.Ordinal));
        var failed = rows.Where(r => !r.Pass).Select(r => $"{r.Case} {r.Direction} T={r.T} {r.Quantity}: {r.Error:E2}").ToList();
        Assert.True(failed.Count == 0, string.Join("; ", failed));
    }

    [CudaTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(196)]
    [InlineData(197)]
    public void Fused_bidirectional_forward_and_gradients_match_the_float64_reference(int T) => CheckBidirectional(T, 3e-4);

    [CudaTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(196)]
    [InlineData(197)]
    public void Fused_causal_forward_and_gradients_match_the_float64_reference(int T) => CheckCausal(T, 3e-4);

    [CudaFact]
    [Trait("Category", "Slow")]
    public void Fused_kernels_match_the_float64_reference_at_3136_tokens()
    {
        CheckBidirectional(3136, 2e-3);
        CheckCausal(3136, 2e-3);
    }

    [CudaTheory]
    [InlineData(100)]
    [InlineData(3136)]
    public void Segmented_forward_equals_the_single_pass_forward(int T)
    {
        var c = new WkvCase(seed: 1000 + T, b: 2, t: T, c: 40, kMax: 8, wMin: -5.0 / T, wMax: 5.0 / T);
        double[][] With(long segments)
        {
            return Outputs(c, ScalarType.Float32, (k, v, w, u) => Wkv4Cuda.Bidirectional(k, v, w, u, segments));
        }
        var single = With(1);
        foreach (var s in new long[] { 3, 16, T })
            AllClose(single, With(s), 1e-4, 1e-4, $"T={T} segments={s}");
    }

    [CudaFact]
    public void Fused_outputs_and_gradients_stay_finite_and_close_for_extreme_inputs()
    {
        var c = new WkvCase(seed: 21, b: 1, t: 40, c: 8, kMax: 60, wMin: -60, wMax: 60, uMax: 60);
        var expected = Outputs(c, ScalarType.Float64, Wkv4Reference.Bidirectional);
        var fused = Outputs(c, ScalarType.Float32, (k, v, w, u) => Wkv4Cuda.Bidirectional(k, v, w, u));
        foreach (var g in fused)
            Assert.All(g, x => Assert.True(double.IsFinite(x)));
        // y is a weighted mean of v: accurate whatever the logits.
        WkvAssert.Close(expected[0], fused[0], 1e-4, 1e-4, "extreme bidirectional y");
        var causal = new WkvCase(seed: 22, b: 1, t: 40, c: 8, kMax: 60, wMin: 1e-3, wMax: 60, uMax: 60);
        var cExpected = Outputs(causal, ScalarType.Float64, (k, v, w, u) => Wkv4Reference.Causal(k, v, w, u, Start(k)).Y);
        var cFused = Outputs(causal, ScalarType.Float32, (k, v, w, u) => Wkv4Cuda.Causal(k, v, w, u, Start(k)).Y);
        foreach (var g in cFused)
            Assert.All(g, x => Assert.True(double.IsFinite(x)));
        WkvAssert.Close(cExpected[0], cFused[0], 1e-4, 1e-4, "extreme causal y");
    }

    [CudaFact]
    public void Wkv4_dispatches_CUDA_tensors_to_the_fused_kernel_and_carries_state()
    {
        var c = new WkvCase(seed: 23, b: 2, t: 30, c: 16, kMax: 5, wMin: 0.01, wMax: 2);
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt().cuda(), c.Vt().cuda(), c.Wt().cuda(), c.Ut().cuda());
        using (no_grad())
        {
            var direct = Wkv4Cuda.Bidirectional(k, v, w, u);
            var viaWkv4 = Wkv4.Bidirectional(k, v, w, u);
            Assert.Equal(WkvAssert.ToDoubles(direct), WkvAssert.ToDoubles(viaWkv4));
        }
        // Two causal pieces with the fused kernel's carried state equal one call of the reference.
        var (y1, s1) = Wkv4.Causal(k[.., ..11], v[.., ..11], w, u);
        var (y2, s2) = Wkv4.Causal(k[.., 11..], v[.., 11..], w, u, s1);
        var (yr, sr) = Wkv4.Causal(k, v, w, u, null, WkvImplementation.Reference);
        WkvAssert.Close(WkvAssert.ToDoubles(yr), cat([y1, y2], 1), 2e-5, 2e-5, "pieces y");
        WkvAssert.Close(WkvAssert.ToDoubles(sr.Num * exp(sr.MaxLog - sr.MaxLog.amax())),
            s2.Num * exp(s2.MaxLog - sr.MaxLog.amax()), 2e-5, 2e-5, "final state");
    }
}

/// <summary>Behaviour of the CUDA path's selection that can be checked on any machine.</summary>
public class Wkv4CudaSelectionTests
{
    [Fact]
    public void Without_CUDA_the_fused_path_is_unavailable_and_says_why()
    {
        if (cuda.is_available())
            return;                                                    // covered by the CUDA tests there
        Assert.False(Wkv4Cuda.IsAvailable);
        Assert.Contains("CUDA", Wkv4Cuda.UnavailableReason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_chunked_implementation_can_be_chosen_explicitly_and_agrees_with_the_fast_path()
    {
        var c = new WkvCase(seed: 24, b: 2, t: 37, c: 12, kMax: 6, wMin: 0.01, wMax: 2);
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt(), c.Vt(), c.Wt(), c.Ut());
        WkvAssert.Close(WkvAssert.ToDoubles(Wkv4.Bidirectional(k, v, w, u, WkvImplementation.Fast)),
            Wkv4.Bidirectional(k, v, w, u, WkvImplementation.Chunked), 2e-5, 2e-5, "bidirectional");
        WkvAssert.Close(WkvAssert.ToDoubles(Wkv4.Causal(k, v, w, u, null, WkvImplementation.Fast).Y),
            Wkv4.Causal(k, v, w, u, null, WkvImplementation.Chunked).Y, 2e-5, 2e-5, "causal");
    }
}
