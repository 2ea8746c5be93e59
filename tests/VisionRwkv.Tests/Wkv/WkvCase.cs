using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Wkv;

/// <summary>
/// Random WKV inputs, held as float32 values (what the implementations see) and the same values as float64 (what
/// the brute force sees), so that differences measure the implementations, not input rounding.
/// </summary>
internal sealed class WkvCase
{
    public WkvCase(int seed, int b, int t, int c, double kMax, double wMin, double wMax, double uMax = 2)
    {
        B = b; T = t; C = c;
        var rng = new Random(seed);
        K = Draw(rng, b * t * c, -kMax, kMax);
        V = Draw(rng, b * t * c, -3, 3);
        W = Draw(rng, c, wMin, wMax);
        U = Draw(rng, c, -uMax, uMax);
    }

    public int B { get; }
    public int T { get; }
    public int C { get; }
    public float[] K { get; }
    public float[] V { get; }
    public float[] W { get; }
    public float[] U { get; }

    public Tensor Kt(ScalarType dtype = ScalarType.Float32, bool grad = false) => Make(K, dtype, grad, B, T, C);
    public Tensor Vt(ScalarType dtype = ScalarType.Float32, bool grad = false) => Make(V, dtype, grad, B, T, C);
    public Tensor Wt(ScalarType dtype = ScalarType.Float32, bool grad = false) => Make(W, dtype, grad, C);
    public Tensor Ut(ScalarType dtype = ScalarType.Float32, bool grad = false) => Make(U, dtype, grad, C);

    public static double[] D(float[] x) => Array.ConvertAll(x, f => (double)f);

    public double[] BruteBidirectional() => WkvBruteForce.Bidirectional(D(K), D(V), D(W), D(U), B, T, C);

    public double[] BruteCausal() => WkvBruteForce.Causal(D(K), D(V), D(W), D(U), B, T, C);

    private static float[] Draw(Random rng, int n, double lo, double hi)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return x;
    }

    private static Tensor Make(float[] x, ScalarType dtype, bool grad, params long[] shape)
    {
        using var f = tensor(x, shape);
        var t = f.to(dtype).detach();
        return grad ? t.requires_grad_() : t;
    }
}

/// <summary>Comparisons that report the worst element.</summary>
internal static class WkvAssert
{
    public static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().to(ScalarType.Float64).cpu().contiguous();
        return d.data<double>().ToArray();
    }

    /// <summary>|actual - expected| ≤ atol + rtol·|expected| everywhere, and every value finite.</summary>
    public static void Close(double[] expected, Tensor actual, double atol, double rtol, string what)
    {
        var a = ToDoubles(actual);
        Close(expected, a, atol, rtol, what);
    }

    public static void Close(double[] expected, double[] a, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Length, a.Length);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(double.IsFinite(a[i]), $"{what}: element {i} is {a[i]}");
            double excess = Math.Abs(a[i] - expected[i]) - (atol + rtol * Math.Abs(expected[i]));
            if (excess > worst) { worst = excess; at = i; }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}: element {at} is {a[at]}, expected {expected[at]} (atol {atol}, rtol {rtol})");
    }
}
