using System.Runtime.Intrinsics;
using VisionRwkv.Wkv;

namespace VisionRwkv.Tests.Wkv;

/// <summary>The kernels' own vector exp and log against System.Math in double precision.</summary>
public class VectorMathTests
{
    private static IEnumerable<float> Samples(float lo, float hi, int n, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < n; i++)
            yield return lo + ((hi - lo) * (float)rng.NextDouble());
    }

    private static void AgreeWithMath(Func<Vector256<float>, Vector256<float>> f, Func<double, double> reference,
        IEnumerable<float> inputs, double maxRelative)
    {
        var xs = inputs.ToArray();
        double worst = 0;
        float worstX = 0;
        for (int i = 0; i + 8 <= xs.Length; i += 8)
        {
            var got = f(Vector256.Create(xs, i));
            for (int l = 0; l < 8; l++)
            {
                double expected = reference(xs[i + l]);
                double err = Math.Abs(got[l] - expected) / Math.Max(Math.Abs(expected), 1e-30);
                if (err > worst) (worst, worstX) = (err, xs[i + l]);
            }
        }
        Assert.True(worst <= maxRelative, $"worst relative error {worst:E2} at x = {worstX:R} (allowed {maxRelative:E1})");
    }

    [Fact]
    public void Exp_is_within_a_few_ulp_of_Math_Exp_over_the_scan_range()
    {
        AgreeWithMath(Wkv4CpuKernel.Exp, Math.Exp, Samples(-87f, 0f, 40_000, 1), 5e-7);
        AgreeWithMath(Wkv4CpuKernel.Exp, Math.Exp, Samples(-1f, 1f, 40_000, 2), 5e-7);
    }

    [Fact]
    public void Exp_of_a_very_negative_argument_is_exactly_zero()
    {
        var got = Wkv4CpuKernel.Exp(Vector256.Create(-1e30f));
        Assert.Equal(0f, got[0]);
    }

    [Fact]
    public void Log_is_within_a_few_ulp_of_Math_Log_for_denominators_and_across_octaves()
    {
        // WKV denominators are ≥ 1; the log must also hold across octave borders and the √2 split of the mantissa.
        AgreeWithMath(Wkv4CpuKernel.Log, Math.Log, Samples(1f, 4f, 40_000, 3), 5e-7);
        AgreeWithMath(Wkv4CpuKernel.Log, Math.Log, Samples(4f, 1e6f, 40_000, 4), 5e-7);
        AgreeWithMath(Wkv4CpuKernel.Log, Math.Log, Samples(1e-6f, 0.999f, 40_000, 5), 5e-7);
        AgreeWithMath(Wkv4CpuKernel.Log, Math.Log, [0.70710677f, 0.70710683f, 1.4142135f, 1.4142137f, 0.5f, 2f, 1024f, 3e38f], 5e-7);
    }

    [Fact]
    public void Log_of_one_is_exactly_zero()
    {
        Assert.Equal(0f, Wkv4CpuKernel.Log(Vector256<float>.One)[0]);
    }
}
