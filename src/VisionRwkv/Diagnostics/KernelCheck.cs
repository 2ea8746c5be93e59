using TorchSharp;
using VisionRwkv.Layers;
using VisionRwkv.Runtime;
using VisionRwkv.Training;
using VisionRwkv.Wkv;
using VisionRwkv.Wkv.Cuda;
using static TorchSharp.torch;

namespace VisionRwkv.Diagnostics;

/// <summary>
/// One compared quantity (y, dk, dv, dw or du) of one case: Error is max |fused - reference| / max(1, max |reference|),
/// ChunkedError the same for the chunked tensor-op algorithm; Pass when the fused values are finite and within tolerance.
/// </summary>
public sealed record KernelCheckRow(string Case, string Direction, long T, string Quantity, double Error,
    double ChunkedError, bool Finite, bool Pass);

/// <summary>
/// On-device correctness check of the fused CUDA kernels (for a machine with a GPU but no test runner): the forward and
/// the gradients of L = Σ y·r in k, v, w, u, from <see cref="Wkv4Cuda"/> and <see cref="Wkv4Chunked"/> in float32,
/// against the serial-scan reference in float64 on the same device, for several lengths and for extreme inputs; the
/// fused Q-Shift + token mixes against their tensor-op composition in float64; and the fused AdamW update against the
/// op sequence in float64.
/// </summary>
public static class KernelCheck
{
    private static readonly string[] Quantities = ["y", "dk", "dv", "dw", "du"];

    /// <summary>Runs every case on <paramref name="device"/>; a row fails when its error exceeds the tolerance or a value is not finite.</summary>
    public static List<KernelCheckRow> Run(Device device)
    {
        if (!Wkv4Cuda.CanRun(device, KernelOptions.Default))
            throw new InvalidOperationException($"The fused CUDA WKV cannot run on {device}: {Wkv4Cuda.UnavailableReason}");
        var rows = new List<KernelCheckRow>();
        foreach (var causal in new[] { false, true })
        {
            foreach (var T in new long[] { 1, 2, 7, 33, 196, 197, 3136 })
                rows.AddRange(Case("normal", causal, 2, T, 64, kMax: 8, causal ? (0.001, 3) : (-5.0 / T, 5.0 / T), uMax: 2,
                    tolerance: T > 1000 ? 2e-3 : 5e-4, device));
            // Extreme logits and decays: only finiteness and a loose bound (float32 cancellation in the gradients).
            rows.AddRange(Case("extreme", causal, 1, 40, 8, kMax: 60, causal ? (0.001, 60) : (-60, 60), uMax: 60,
                tolerance: 1e-2, device));
        }
        foreach (var (h, w, c, m) in new[] { (14, 14, 192, 3), (7, 9, 40, 2), (1, 1, 8, 3), (3, 5, 6, 1) })
            rows.AddRange(TokenShiftCase(h, w, c, m, device));
        foreach (var (n, step) in new[] { (1L, 1L), (1000L, 1L), (147456L, 7L) })
            rows.AddRange(AdamWCase(n, step, device));
        return rows;
    }

    /// <summary>
    /// One fused AdamW update against <see cref="FusedAdamW.ReferenceUpdate"/> in float64 from the same float32 values:
    /// p, and the moments m and v, each relative to its largest magnitude. <paramref name="update"/> is the update under
    /// test, <see cref="FusedAdamWCuda"/> when null (a failing row when it cannot run on <paramref name="device"/>).
    /// </summary>
    internal static List<KernelCheckRow> AdamWCase(long n, long step, Device device,
        Action<Tensor, Tensor, Tensor, Tensor, FusedAdamW.Coefficients>? update = null)
    {
        using var scope = NewDisposeScope();
        string name = $"adamw n={n} step={step}";
        if (update is null && !FusedAdamWCuda.CanRun(device))
            return [new KernelCheckRow(name, "adamw", n, "p", double.NaN, double.NaN, false, false)];
        var gen = new Generator((ulong)(n + step));
        Tensor[] start = [randn(n, generator: gen), randn(n, generator: gen) * 0.1, randn(n, generator: gen) * 0.01,
            rand(n, generator: gen) * 1e-3];                                        // p, g, m, v
        var options = new TorchSharp.Modules.AdamW.Options
        {
            LearningRate = 2e-3, beta1 = 0.9, beta2 = 0.99, eps = 1e-8, weight_decay = 0.05,
        };
        var c = FusedAdamW.Coefficients.For(options, step);
        var expected = start.Select(t => t.to(ScalarType.Float64).to(device)).ToArray();
        FusedAdamW.ReferenceUpdate(expected[0], expected[1], expected[2], expected[3], c);
        var actual = start.Select(t => t.to(device)).ToArray();
        (update ?? FusedAdamWCuda.Update)(actual[0], actual[1], actual[2], actual[3], c);
        var rows = new List<KernelCheckRow>();
        foreach (var (q, i) in new[] { ("p", 0), ("m", 2), ("v", 3) })
        {
            double[] e = Flat(expected[i]), a = Flat(actual[i]);
            double err = Error(e, a, floor: double.Epsilon);   // the moments are far below 1: relative to their own size
            bool finite = a.All(double.IsFinite);
            rows.Add(new KernelCheckRow(name, "adamw", n, q, err, double.NaN, finite, finite && err <= 1e-6));
        }
        return rows;
    }

    /// <summary>
    /// The fused CUDA Q-Shift + token mixes against the tensor-op composition in float64 on the same device: the
    /// outputs and the gradients of L = Σ_m Σ out_m·r_m in x and in every μ_m. Odd grids and C not divisible by 4
    /// cover the border and remainder channels.
    /// </summary>
    private static List<KernelCheckRow> TokenShiftCase(int h, int w, int c, int mixes, Device device)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)(h * 1000 + w * 10 + mixes));
        var grid = new PatchGrid(h, w);
        long B = 3, N = grid.Tokens;
        var x32 = randn(new[] { B, N, c }, ScalarType.Float64, generator: gen).to(ScalarType.Float32).to(device);
        var mu32 = Enumerable.Range(0, mixes)
            .Select(_ => rand(new[] { 1L, 1, c }, ScalarType.Float64, generator: gen).to(ScalarType.Float32).to(device)).ToArray();
        var r = Enumerable.Range(0, mixes).Select(_ => randn(new[] { B, N, c }, ScalarType.Float64, generator: gen).to(device)).ToArray();

        double[][] Run(ScalarType dtype, bool fused)
        {
            using var inner = NewDisposeScope();
            var x = x32.to(dtype).detach().requires_grad_();
            var mus = mu32.Select(m => m.to(dtype).detach().requires_grad_()).ToArray();
            var outs = fused ? TokenShiftMix.Apply(x, grid, 1, 0.25, mus) : TokenShiftMix.Reference(x, grid, 1, 0.25, mus);
            var loss = outs.Select((o, i) => (o * r[i].to(dtype)).sum()).Aggregate((a, b) => a + b);
            loss.backward();
            return [.. outs.Select(Flat), Flat(x.grad!), .. mus.Select(m => Flat(m.grad!))];
        }

        var expected = Run(ScalarType.Float64, fused: false);
        var actual = Run(ScalarType.Float32, fused: true);
        var names = Enumerable.Range(0, mixes).Select(i => $"out{i}").Append("dx")
            .Concat(Enumerable.Range(0, mixes).Select(i => $"dmu{i}")).ToArray();
        var rows = new List<KernelCheckRow>();
        for (int q = 0; q < names.Length; q++)
        {
            double err = Error(expected[q], actual[q]);
            bool finite = actual[q].All(double.IsFinite);
            rows.Add(new KernelCheckRow($"token-shift {h}x{w}x{c}", "q-shift", N, names[q], err, double.NaN, finite,
                finite && err <= 1e-5));
        }
        return rows;
    }

    private static List<KernelCheckRow> Case(string name, bool causal, long B, long T, long C, double kMax,
        (double Lo, double Hi) w, double uMax, double tolerance, Device device)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)(T * 7 + (causal ? 1 : 0)));
        var k = (rand(new[] { B, T, C }, ScalarType.Float64, generator: gen) * 2 - 1) * kMax;
        var v = (rand(new[] { B, T, C }, ScalarType.Float64, generator: gen) * 2 - 1) * 3;
        var ww = rand(new[] { C }, ScalarType.Float64, generator: gen) * (w.Hi - w.Lo) + w.Lo;
        var u = (rand(new[] { C }, ScalarType.Float64, generator: gen) * 2 - 1) * uMax;
        var r = randn(new[] { B, T, C }, ScalarType.Float64, generator: gen);
        // The float32 inputs, and the float64 reference of exactly those values.
        Tensor[] inputs32 = [.. new[] { k, v, ww, u }.Select(x => x.to(ScalarType.Float32).to(device))];
        Tensor[] inputs64 = [.. inputs32.Select(x => x.to(ScalarType.Float64))];
        var rDev = r.to(device);

        double[][] Run(Tensor[] xs, Func<Tensor, Tensor, Tensor, Tensor, Tensor> f)
        {
            using var inner = NewDisposeScope();
            var leaves = xs.Select(x => x.detach().clone().requires_grad_()).ToArray();
            var y = f(leaves[0], leaves[1], leaves[2], leaves[3]);
            (y * rDev.to(y.dtype)).sum().backward();
            return [Flat(y), .. leaves.Select(l => l.grad is null ? new double[l.numel()] : Flat(l.grad))];
        }

        Wkv4Reference.ScanState Start(Tensor like) => Wkv4Reference.Empty(B, C, like.dtype, device);
        var expected = Run(inputs64, (a, b, c, d) => causal ? Wkv4Reference.Causal(a, b, c, d, Start(a)).Y
            : Wkv4Reference.Bidirectional(a, b, c, d));
        var fused = Run(inputs32, (a, b, c, d) => causal ? Wkv4Cuda.Causal(a, b, c, d, Start(a)).Y
            : Wkv4Cuda.Bidirectional(a, b, c, d));
        var chunked = Run(inputs32, (a, b, c, d) => causal ? new Wkv4Chunked().Causal(a, b, c, d, Start(a)).Y
            : new Wkv4Chunked().Bidirectional(a, b, c, d));
        var rows = new List<KernelCheckRow>();
        for (int q = 0; q < Quantities.Length; q++)
        {
            double err = Error(expected[q], fused[q]);
            bool finite = fused[q].All(double.IsFinite);
            rows.Add(new KernelCheckRow(name, causal ? "causal" : "bidirectional", T, Quantities[q], err,
                Error(expected[q], chunked[q]), finite, finite && err <= tolerance));
        }
        return rows;
    }

    private static double[] Flat(Tensor t)
    {
        using var d = t.detach().to(ScalarType.Float64).cpu().contiguous();
        return d.data<double>().ToArray();
    }

    /// <summary>max |actual - expected| / max(floor, max |expected|); infinite where a difference is NaN.</summary>
    private static double Error(double[] expected, double[] actual, double floor = 1)
    {
        double scale = Math.Max(floor, expected.Max(Math.Abs));
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(actual[i] - expected[i]);
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }
        return worst / scale;
    }
}
