using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Wkv;

/// <summary>float64 inputs stay float64 through the core (the float64 checks of the text model rely on it).</summary>
public class Wkv4Float64Tests
{
    [Theory]
    [InlineData(1)]
    [InlineData(33)]
    [InlineData(70)]
    public void Causal_wkv_of_float64_inputs_matches_the_formula_to_float64_precision_and_stays_float64(int T)
    {
        var c = new WkvCase(seed: 21, b: 2, t: T, c: 5, kMax: 30, wMin: 0.001, wMax: 8);
        using var scope = NewDisposeScope();
        var (y, s) = Wkv4.Causal(c.Kt(ScalarType.Float64), c.Vt(ScalarType.Float64), c.Wt(ScalarType.Float64), c.Ut(ScalarType.Float64));
        Assert.Equal(ScalarType.Float64, y.dtype);
        Assert.Equal(ScalarType.Float64, s.Num.dtype);
        WkvAssert.Close(c.BruteCausal(), y, 1e-11, 1e-11, $"float64 causal T={T}");
        // Steps in float64 continue the float64 state to the same precision.
        var (y1, _) = Wkv4.Step(c.Kt(ScalarType.Float64)[.., 0], c.Vt(ScalarType.Float64)[.., 0], c.Wt(ScalarType.Float64), c.Ut(ScalarType.Float64), null);
        Assert.Equal(ScalarType.Float64, y1.dtype);
        Assert.True((y1 - y[.., 0]).abs().max().item<double>() < 1e-13);
    }

    [Fact]
    public void Bidirectional_wkv_of_float64_inputs_matches_the_formula_to_float64_precision()
    {
        var c = new WkvCase(seed: 22, b: 2, t: 40, c: 4, kMax: 30, wMin: -0.2, wMax: 0.2);
        using var scope = NewDisposeScope();
        var y = Wkv4.Bidirectional(c.Kt(ScalarType.Float64), c.Vt(ScalarType.Float64), c.Wt(ScalarType.Float64), c.Ut(ScalarType.Float64));
        Assert.Equal(ScalarType.Float64, y.dtype);
        WkvAssert.Close(c.BruteBidirectional(), y, 1e-11, 1e-11, "float64 bidirectional");
    }
}
