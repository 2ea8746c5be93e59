using TorchSharp;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Wkv;

/// <summary>Gradients of the fast paths against float64 references (autograd of the serial scan, finite differences).</summary>
public class Wkv4GradientTests
{
    private delegate Tensor Forward(Tensor k, Tensor v, Tensor w, Tensor u);

    /// <summary>Gradients of L = Σ y·r with respect to k, v, w, u (r a fixed random weight).</summary>
    private static double[][] Grads(WkvCase c, ScalarType dtype, Forward f)
    {
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt(dtype, true), c.Vt(dtype, true), c.Wt(dtype, true), c.Ut(dtype, true));
        var r = randn(new long[] { c.B, c.T, c.C }, generator: new Generator(42)).to(dtype);
        var loss = (f(k, v, w, u) * r).sum();
        loss.backward();
        // An input the output does not depend on (w when T = 1) has no gradient: that is a zero gradient.
        return [G(k), G(v), G(w), G(u)];
    }

    private static double[] G(Tensor x) => x.grad is null ? new double[x.numel()] : WkvAssert.ToDoubles(x.grad);

    private static void AllClose(double[][] expected, double[][] actual, double atol, double rtol, string what)
    {
        string[] names = ["k", "v", "w", "u"];
        for (int i = 0; i < 4; i++)
        {
            // w and u gradients sum over B·T terms: scale the absolute tolerance by their size.
            double scale = i >= 2 ? Math.Max(1, expected[i].Max(Math.Abs)) : 1;
            WkvAssert.Close(expected[i], actual[i], atol * scale, rtol, $"{what} d/d{names[i]}");
        }
    }

    private static Tensor ReferenceCausal(Tensor k, Tensor v, Tensor w, Tensor u) =>
        Wkv4Reference.Causal(k, v, w, u, Wkv4Reference.Empty(k.shape[0], k.shape[2], k.dtype, k.device)).Y;

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(64)]
    public void Fast_bidirectional_gradients_match_float64_autograd(int T)
    {
        var c = new WkvCase(seed: 600 + T, b: 2, t: T, c: 11, kMax: 8, wMin: -5.0 / T, wMax: 5.0 / T);
        var expected = Grads(c, ScalarType.Float64, Wkv4Reference.Bidirectional);
        var fast = Grads(c, ScalarType.Float32, (k, v, w, u) => Wkv4.Bidirectional(k, v, w, u, WkvImplementation.Fast));
        AllClose(expected, fast, 2e-4, 2e-4, $"fast T={T}");
        var chunked = Grads(c, ScalarType.Float32, (k, v, w, u) => new Wkv4Chunked(16).Bidirectional(k, v, w, u));
        AllClose(expected, chunked, 2e-4, 2e-4, $"chunked T={T}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(64)]
    public void Fast_causal_gradients_match_float64_autograd(int T)
    {
        var c = new WkvCase(seed: 700 + T, b: 2, t: T, c: 11, kMax: 8, wMin: 1e-3, wMax: 3);
        var expected = Grads(c, ScalarType.Float64, ReferenceCausal);
        var fast = Grads(c, ScalarType.Float32, (k, v, w, u) => Wkv4.Causal(k, v, w, u).Y);
        AllClose(expected, fast, 2e-4, 2e-4, $"fast T={T}");
        var chunked = Grads(c, ScalarType.Float32, (k, v, w, u) =>
            new Wkv4Chunked(16).Causal(k, v, w, u, Wkv4Reference.Empty(2, 11, ScalarType.Float32, CPU)).Y);
        AllClose(expected, chunked, 2e-4, 2e-4, $"chunked T={T}");
    }

    [Fact]
    public void Fast_gradients_stay_finite_for_extreme_inputs()
    {
        var c = new WkvCase(seed: 11, b: 1, t: 40, c: 8, kMax: 60, wMin: -60, wMax: 60, uMax: 60);
        foreach (var g in Grads(c, ScalarType.Float32, (k, v, w, u) => Wkv4.Bidirectional(k, v, w, u)).Concat(
                     Grads(c, ScalarType.Float32, (k, v, w, u) => Wkv4.Causal(k, v, w.abs(), u).Y)))
            Assert.All(g, x => Assert.True(double.IsFinite(x)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fast_gradients_match_finite_differences_of_the_brute_force(bool causal)
    {
        const int B = 1, T = 5, C = 3;
        var c = new WkvCase(seed: causal ? 12 : 13, b: B, t: T, c: C, kMax: 2, wMin: causal ? 0.1 : -0.5, wMax: 0.8);
        var rng = new Random(5);
        var r = Enumerable.Range(0, B * T * C).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] k = WkvCase.D(c.K), v = WkvCase.D(c.V), w = WkvCase.D(c.W), u = WkvCase.D(c.U);
        double Loss()
        {
            var y = causal ? WkvBruteForce.Causal(k, v, w, u, B, T, C) : WkvBruteForce.Bidirectional(k, v, w, u, B, T, C);
            return y.Zip(r, (a, b) => a * b).Sum();
        }
        double[] Fd(double[] x)
        {
            var g = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                double keep = x[i], h = 1e-6;
                x[i] = keep + h; double up = Loss();
                x[i] = keep - h; double down = Loss();
                x[i] = keep;
                g[i] = (up - down) / (2 * h);
            }
            return g;
        }
        double[][] expected = [Fd(k), Fd(v), Fd(w), Fd(u)];

        using var scope = NewDisposeScope();
        var (kt, vt, wt, ut) = (c.Kt(grad: true), c.Vt(grad: true), c.Wt(grad: true), c.Ut(grad: true));
        var y = causal ? Wkv4.Causal(kt, vt, wt, ut).Y : Wkv4.Bidirectional(kt, vt, wt, ut);
        (y * tensor(r.Select(x => (float)x).ToArray(), B, T, C)).sum().backward();
        AllClose(expected, [WkvAssert.ToDoubles(kt.grad!), WkvAssert.ToDoubles(vt.grad!), WkvAssert.ToDoubles(wt.grad!),
            WkvAssert.ToDoubles(ut.grad!)], 1e-4, 1e-4, causal ? "causal" : "bidirectional");
    }

    [Fact]
    public void Gradients_flow_through_the_carried_state_like_the_reference()
    {
        // Two pieces with the state of the first feeding the second; loss touches y of both and the final state.
        var c = new WkvCase(seed: 14, b: 2, t: 20, c: 10, kMax: 5, wMin: 0.01, wMax: 2);
        double[][] Run(WkvImplementation impl)
        {
            using var scope = NewDisposeScope();
            var (k, v, w, u) = (c.Kt(grad: true), c.Vt(grad: true), c.Wt(grad: true), c.Ut(grad: true));
            var (y1, s1) = Wkv4.Causal(k[.., ..12], v[.., ..12], w, u, null, impl);
            var (y2, s2) = Wkv4.Causal(k[.., 12..], v[.., 12..], w, u, s1, impl);
            var loss = (cat([y1, y2], 1) * cat([y1, y2], 1)).sum() + (s2.Num * exp(s2.MaxLog - 5)).sum()
                       + (s2.Den * exp(s2.MaxLog - 5)).sum();
            loss.backward();
            return [WkvAssert.ToDoubles(k.grad!), WkvAssert.ToDoubles(v.grad!), WkvAssert.ToDoubles(w.grad!),
                WkvAssert.ToDoubles(u.grad!)];
        }
        AllClose(Run(WkvImplementation.Reference), Run(WkvImplementation.Fast), 2e-4, 2e-4, "carried state");
    }
}
