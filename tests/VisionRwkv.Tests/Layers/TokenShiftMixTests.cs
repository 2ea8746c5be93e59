using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Layers;

public class TokenShiftMixTests
{
    public static TheoryData<int, int, int, int, int, int> Cases()
    {
        var data = new TheoryData<int, int, int, int, int, int>();
        (int H, int W)[] grids = [(1, 1), (2, 3), (7, 7), (14, 14), (5, 9)];
        int[] channels = [8, 9, 13, 64, 96];
        int seed = 0;
        foreach (var (h, w) in grids)
            foreach (int c in channels)
                foreach (int b in new[] { 1, 3 })
                    foreach (int s in new[] { 1, 2 })
                        data.Add(b, h, w, c, s, seed++);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_mix_matches_qshift_and_addcmul_in_values_and_gradients(int b, int h, int w, int c, int s, int seed)
    {
        // Three mixes (spatial mix) on even seeds, two (channel mix) on odd ones.
        int mixes = seed % 2 == 0 ? 3 : 2;
        Compare(b, new PatchGrid(h, w), c, s, mixes, seed, dropGradientOf: -1);
    }

    [Fact]
    public void Float32_cpu_tensors_take_the_fused_path_and_float64_the_reference()
    {
        using var scope = NewDisposeScope();
        var mu = rand(1, 1, 8);
        Assert.True(TokenShiftMix.CanFuse(randn(2, 4, 8), [mu, rand(1, 1, 8)]));
        Assert.False(TokenShiftMix.CanFuse(randn(2, 4, 8, ScalarType.Float64), [mu]));
        Assert.False(TokenShiftMix.CanFuse(randn(2, 4, 8), [mu.to(ScalarType.Float64)]));
    }

    [Fact]
    public void An_output_without_gradient_counts_as_zero()
    {
        Compare(2, new PatchGrid(5, 9), 13, 1, 3, 7, dropGradientOf: 1);
    }

    [Fact]
    public void Gradients_are_bitwise_reproducible()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var x = randn(3, 49, 96).requires_grad_(true);
        var mu = rand(1, 1, 96).requires_grad_(true);
        var g = randn(3, 49, 96);
        float[] Run()
        {
            x.grad?.zero_();
            mu.grad?.zero_();
            (TokenShiftMix.Apply(x, new PatchGrid(7, 7), 1, 0.25, mu)[0] * g).sum().backward();
            return [.. x.grad!.data<float>(), .. mu.grad!.data<float>()];
        }
        var first = Run();
        for (int i = 0; i < 5; i++)
            Assert.Equal(first, Run());
    }

    [Fact]
    public void Inference_without_autograd_gives_the_same_bits_as_the_tracked_forward()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var grid = new PatchGrid(5, 9);
        var x = randn(2, grid.Tokens, 13);
        var mus = new[] { rand(1, 1, 13), rand(1, 1, 13), rand(1, 1, 13) };
        Tensor[] plain;
        using (no_grad())
            plain = TokenShiftMix.Apply(x, grid, 1, 0.25, mus);
        var tracked = TokenShiftMix.Apply(x.clone().requires_grad_(true), grid, 1, 0.25, mus);
        for (int i = 0; i < mus.Length; i++)
        {
            Assert.False(plain[i].requires_grad);
            Assert.True(tracked[i].requires_grad);
            Assert.Equal(tracked[i].detach().data<float>().ToArray(), plain[i].data<float>().ToArray());
        }
    }

    [Fact]
    public void Float64_input_equals_a_loop_over_the_formula_and_differentiates()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        const int B = 2, H = 2, W = 3, C = 9;
        var x = randn(B, H * W, C, dtype: ScalarType.Float64).requires_grad_(true);
        var mu = rand(1, 1, C, dtype: ScalarType.Float64).requires_grad_(true);
        var outs = TokenShiftMix.Apply(x, new PatchGrid(H, W), 1, 0.25, mu);
        outs[0].sum().backward();

        // Brute force, element by element: channel group g of token (h, w) comes from the left, right, upper or lower
        // neighbour (zero outside the grid), channels past 4q are unshifted; out = x·μ + xx·(1-μ).
        var xs = x.detach().data<double>().ToArray();
        var ms = mu.detach().data<double>().ToArray();
        var got = outs[0].detach().data<double>().ToArray();
        var dmu = new double[C];
        int q = C / 4;   // 2 channels per direction, 1 unshifted
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    for (int c = 0; c < C; c++)
                    {
                        var (sh, sw) = (c / q) switch { 0 => (h, w - 1), 1 => (h, w + 1), 2 => (h - 1, w), 3 => (h + 1, w), _ => (h, w) };
                        double shifted = sh is >= 0 and < H && sw is >= 0 and < W ? xs[((b * H + sh) * W + sw) * C + c] : 0.0;
                        double own = xs[((b * H + h) * W + w) * C + c];
                        double expected = own * ms[c] + shifted * (1 - ms[c]);
                        Assert.Equal(expected, got[((b * H + h) * W + w) * C + c], 12);
                        dmu[c] += own - shifted;   // d out / d μ_c, summed by the sum() loss
                    }
        var grad = mu.grad!.data<double>().ToArray();
        for (int c = 0; c < C; c++)
            Assert.Equal(dmu[c], grad[c], 12);
    }

    /// <summary>
    /// Fused float32 against the reference run in float64 (so the reference's own rounding does not count), with
    /// random upstream gradients for every output except <paramref name="dropGradientOf"/>.
    /// </summary>
    private static void Compare(int b, PatchGrid grid, int c, int s, int mixCount, int seed, int dropGradientOf)
    {
        using var scope = NewDisposeScope();
        manual_seed(seed);
        var x0 = randn(b, grid.Tokens, c);
        var mus0 = Enumerable.Range(0, mixCount).Select(_ => rand(1, 1, c)).ToArray();
        var gs = Enumerable.Range(0, mixCount).Select(_ => randn(b, grid.Tokens, c)).ToArray();

        var x = x0.clone().requires_grad_(true);
        var mus = mus0.Select(m => m.clone().requires_grad_(true)).ToArray();
        var fused = TokenShiftMix.Apply(x, grid, s, 0.25, mus);
        Loss(fused, gs, dropGradientOf).backward();

        var xr = x0.to(ScalarType.Float64).requires_grad_(true);
        var musr = mus0.Select(m => m.to(ScalarType.Float64).requires_grad_(true)).ToArray();
        var reference = TokenShiftMix.Reference(xr, grid, s, 0.25, musr);
        Loss(reference, gs.Select(g => g.to(ScalarType.Float64)).ToArray(), dropGradientOf).backward();

        Assert.Equal(mixCount, fused.Length);
        for (int i = 0; i < mixCount; i++)
        {
            Assert.Equal(ScalarType.Float32, fused[i].dtype);
            Assert.Equal(new long[] { b, grid.Tokens, c }, fused[i].shape);
            AssertClose(reference[i], fused[i], 1e-6, $"output {i}");
            if (i == dropGradientOf)
            {
                Assert.True(mus[i].grad is null || mus[i].grad!.abs().max().item<float>() == 0f);
                continue;
            }
            Assert.Equal(new long[] { 1, 1, c }, mus[i].grad!.shape);
            // gμ sums B·N products in float32: allow for the accumulation order.
            AssertClose(musr[i].grad!, mus[i].grad!, 1e-5, $"gradient of mix {i}");
        }
        AssertClose(xr.grad!, x.grad!, 1e-6, "gradient of x");
    }

    private static Tensor Loss(Tensor[] outputs, Tensor[] upstream, int drop)
    {
        Tensor? total = null;
        for (int i = 0; i < outputs.Length; i++)
        {
            if (i == drop) continue;
            var term = (outputs[i] * upstream[i]).sum();
            total = total is null ? term : total + term;
        }
        return total!;
    }

    /// <summary>max |actual - expected| ≤ rtol · max(1, max |expected|).</summary>
    private static void AssertClose(Tensor expected, Tensor actual, double rtol, string what)
    {
        var e = expected.to(ScalarType.Float64);
        var err = (actual.to(ScalarType.Float64) - e).abs().max().item<double>();
        var scale = Math.Max(1.0, e.abs().max().item<double>());
        Assert.True(err <= rtol * scale, $"{what}: max error {err:E3} exceeds {rtol:E0} × {scale:F3}");
    }
}
