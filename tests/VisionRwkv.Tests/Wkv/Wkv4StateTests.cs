using TorchSharp;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Wkv;

/// <summary>Structural properties: state carry, RNN steps, flip symmetry, trivial lengths.</summary>
public class Wkv4StateTests
{
    public static TheoryData<WkvImplementation, int> Splits() => new()
    {
        { WkvImplementation.Reference, 1 }, { WkvImplementation.Fast, 1 }, { WkvImplementation.Fast, 17 },
        { WkvImplementation.Reference, 30 }, { WkvImplementation.Fast, 39 },
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void Causal_in_two_pieces_with_the_carried_state_equals_one_call(WkvImplementation impl, int a)
    {
        var c = new WkvCase(seed: 20 + a, b: 2, t: 40, c: 13, kMax: 20, wMin: 1e-3, wMax: 10);
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt(), c.Vt(), c.Wt(), c.Ut());
        var (whole, sw) = Wkv4.Causal(k, v, w, u, null, impl);
        var (y1, s1) = Wkv4.Causal(k[.., ..a], v[.., ..a], w, u, null, impl);
        var (y2, s2) = Wkv4.Causal(k[.., a..], v[.., a..], w, u, s1, impl);
        WkvAssert.Close(WkvAssert.ToDoubles(whole), cat([y1, y2], 1), 1e-5, 1e-5, "pieces");
        // Same real sums (Num·e^MaxLog), compared after scaling to a common maximum.
        var m = maximum(sw.MaxLog, s2.MaxLog);
        WkvAssert.Close(WkvAssert.ToDoubles(sw.Num * exp(sw.MaxLog - m)), s2.Num * exp(s2.MaxLog - m), 1e-5, 1e-5, "Num");
        WkvAssert.Close(WkvAssert.ToDoubles(sw.Den * exp(sw.MaxLog - m)), s2.Den * exp(s2.MaxLog - m), 1e-5, 1e-5, "Den");
    }

    [Fact]
    public void Chunked_causal_with_a_carried_state_equals_one_call()
    {
        var c = new WkvCase(seed: 25, b: 2, t: 37, c: 5, kMax: 20, wMin: 1e-3, wMax: 10);
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt(), c.Vt(), c.Wt(), c.Ut());
        var empty = Wkv4Reference.Empty(2, 5, ScalarType.Float32, CPU);
        var chunked = new Wkv4Chunked(8);
        var (whole, _) = chunked.Causal(k, v, w, u, empty);
        var (y1, s1) = chunked.Causal(k[.., ..13], v[.., ..13], w, u, empty);
        var (y2, _) = chunked.Causal(k[.., 13..], v[.., 13..], w, u, s1);
        WkvAssert.Close(WkvAssert.ToDoubles(whole), cat([y1, y2], 1), 1e-5, 1e-5, "chunked pieces");
    }

    [Fact]
    public void T_single_token_steps_equal_one_parallel_call()
    {
        var c = new WkvCase(seed: 26, b: 3, t: 25, c: 10, kMax: 30, wMin: 1e-3, wMax: 20);
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt(), c.Vt(), c.Wt(), c.Ut());
        var (parallel, final) = Wkv4.Causal(k, v, w, u);
        Wkv4State? s = null;
        var ys = new List<Tensor>();
        for (int t = 0; t < c.T; t++)
        {
            var (yt, next) = Wkv4.Step(k[.., t], v[.., t], w, u, s);
            ys.Add(yt);
            s = next;
        }
        WkvAssert.Close(WkvAssert.ToDoubles(parallel), stack(ys, 1), 1e-5, 1e-5, "steps");
        WkvAssert.Close(WkvAssert.ToDoubles(final.MaxLog), s!.MaxLog, 1e-4, 1e-6, "MaxLog");
    }

    [Theory]
    [InlineData(WkvImplementation.Reference)]
    [InlineData(WkvImplementation.Fast)]
    public void Flipping_the_sequence_flips_the_bidirectional_output(WkvImplementation impl)
    {
        var c = new WkvCase(seed: 27, b: 2, t: 31, c: 12, kMax: 20, wMin: -0.3, wMax: 0.3);
        using var scope = NewDisposeScope();
        var (k, v, w, u) = (c.Kt(), c.Vt(), c.Wt(), c.Ut());
        var y = Wkv4.Bidirectional(k, v, w, u, impl);
        var yf = Wkv4.Bidirectional(k.flip(1), v.flip(1), w, u, impl);
        WkvAssert.Close(WkvAssert.ToDoubles(y.flip(1)), yf, 1e-5, 1e-5, "flip");
    }

    [Theory]
    [InlineData(WkvImplementation.Reference)]
    [InlineData(WkvImplementation.Fast)]
    public void A_single_token_bidirectional_wkv_returns_v(WkvImplementation impl)
    {
        var c = new WkvCase(seed: 28, b: 3, t: 1, c: 9, kMax: 60, wMin: -60, wMax: 60, uMax: 60);
        using var scope = NewDisposeScope();
        var y = Wkv4.Bidirectional(c.Kt(), c.Vt(), c.Wt(), c.Ut(), impl);
        WkvAssert.Close(WkvCase.D(c.V), y, 0, 0, "T=1");
    }

    [Fact]
    public void The_initial_state_is_empty_and_finite()
    {
        using var s = Wkv4.InitialState(2, 3);
        Assert.All(WkvAssert.ToDoubles(s.Num), x => Assert.Equal(0, x));
        Assert.All(WkvAssert.ToDoubles(s.Den), x => Assert.Equal(0, x));
        Assert.All(WkvAssert.ToDoubles(s.MaxLog), x => Assert.Equal(-1e30, x, 1e24));
    }
}
