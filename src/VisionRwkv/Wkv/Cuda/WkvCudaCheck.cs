using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Wkv.Cuda;

/// <summary>
/// One compared quantity (y, dk, dv, dw or du) of one case: Error is max |fused - reference| / max(1, max |reference|),
/// ChunkedError the same for the chunked tensor-op algorithm; Pass when the fused values are finite and within tolerance.
/// </summary>
public sealed record WkvCheckRow(string Case, string Direction, long T, string Quantity, double Error,
    double ChunkedError, bool Finite, bool Pass);

/// <summary>
/// On-device correctness check of the fused CUDA WKV (for a machine with a GPU but no test runner): the forward and
/// the gradients of L = Σ y·r in k, v, w, u, from <see cref="Wkv4Cuda"/> and <see cref="Wkv4Chunked"/> in float32,
/// against the serial-scan reference in float64 on the same device, for several lengths and for extreme inputs.
/// </summary>
public static class WkvCudaCheck
{
    private static readonly string[] Quantities = ["y", "dk", "dv", "dw", "du"];

    /// <summary>Runs every case on <paramref name="device"/>; a row fails when its error exceeds the tolerance or a value is not finite.</summary>
    public static List<WkvCheckRow> Run(Device device)
    {
        if (!Wkv4Cuda.CanRun(device))
            throw new InvalidOperationException($"The fused CUDA WKV cannot run on {device}: {Wkv4Cuda.UnavailableReason}");
        var rows = new List<WkvCheckRow>();
        foreach (var causal in new[] { false, true })
        {
            foreach (var T in new long[] { 1, 2, 7, 33, 196, 197, 3136 })
                rows.AddRange(Case("normal", causal, 2, T, 64, kMax: 8, causal ? (0.001, 3) : (-5.0 / T, 5.0 / T), uMax: 2,
                    tolerance: T > 1000 ? 2e-3 : 5e-4, device));
            // Extreme logits and decays: only finiteness and a loose bound (float32 cancellation in the gradients).
            rows.AddRange(Case("extreme", causal, 1, 40, 8, kMax: 60, causal ? (0.001, 60) : (-60, 60), uMax: 60,
                tolerance: 1e-2, device));
        }
        return rows;
    }

    private static List<WkvCheckRow> Case(string name, bool causal, long B, long T, long C, double kMax,
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
        var rows = new List<WkvCheckRow>();
        for (int q = 0; q < Quantities.Length; q++)
        {
            double err = Error(expected[q], fused[q]);
            bool finite = fused[q].All(double.IsFinite);
            rows.Add(new WkvCheckRow(name, causal ? "causal" : "bidirectional", T, Quantities[q], err,
                Error(expected[q], chunked[q]), finite, finite && err <= tolerance));
        }
        return rows;
    }

    private static double[] Flat(Tensor t)
    {
        using var d = t.detach().to(ScalarType.Float64).cpu().contiguous();
        return d.data<double>().ToArray();
    }

    private static double Error(double[] expected, double[] actual)
    {
        double scale = Math.Max(1, expected.Max(Math.Abs));
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(actual[i] - expected[i]);
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }
        return worst / scale;
    }
}
