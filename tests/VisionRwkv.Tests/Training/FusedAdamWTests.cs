using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Training;

public class FusedAdamWTests
{
    // Sizes around the SIMD width (8) and the parallel chunk (65,536), so that vector bodies, scalar tails and several
    // parallel chunks all run.
    private static readonly long[][] Shapes = [[1], [7], [17], [3, 64], [192, 197], [70001], [3, 65536]];

    /// <summary>
    /// Parameters of <see cref="Shapes"/> in two groups (weight-decayed, not), optimized for a few steps by the
    /// optimizer <paramref name="create"/> makes, with the learning rate changing every step as a schedule does and one
    /// step of huge gradients; returns the parameters and the optimizer state as floats.
    /// </summary>
    private static float[][] Train(Func<List<AdamW.ParamGroup>, AdamW> create, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(11);
        var ps = Shapes.Select(s => new Parameter(randn(s, generator: gen).to(dtype))).ToList();
        var groups = new List<AdamW.ParamGroup>
        {
            new(ps.Where((_, i) => i % 2 == 0), lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.05),
            new(ps.Where((_, i) => i % 2 == 1), lr: 3e-3, beta1: 0.8, beta2: 0.999, eps: 1e-6, weight_decay: 0),
        };
        var opt = create(groups);
        for (int step = 1; step <= 5; step++)
        {
            foreach (var g in opt.ParamGroups) g.LearningRate = 3e-3 * step / 5;
            foreach (var p in ps)
                p.grad = (randn(p.shape, generator: gen) * (step == 3 ? 100.0 : 1e-2)).to(dtype);
            opt.step();
        }
        var result = ps.Select(p => p.detach().to(ScalarType.Float32).data<float>().ToArray()).ToList();
        foreach (var s in opt.state_dict().State.Cast<AdamW.State>())
        {
            Assert.Equal(5, s.step);
            result.Add(s.exp_avg.to(ScalarType.Float32).data<float>().ToArray());
            result.Add(s.exp_avg_sq.to(ScalarType.Float32).data<float>().ToArray());
        }
        return [.. result];
    }

    private static void AssertSameBits(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            int differing = expected[t].Zip(actual[t]).Count(x => BitConverter.SingleToInt32Bits(x.First) != BitConverter.SingleToInt32Bits(x.Second));
            Assert.True(differing == 0, $"tensor {t} ({expected[t].Length} values): {differing} differ");
        }
    }

    [Fact]
    public void The_fused_CPU_update_gives_the_same_bits_as_TorchSharps_AdamW()
    {
        var torchSharp = Train(groups => new AdamW(groups));
        var fused = Train(groups => new FusedAdamW(groups));
        AssertSameBits(torchSharp, fused);
    }

    [Fact]
    public void The_reference_update_is_TorchSharps_AdamW_op_for_op()
    {
        var torchSharp = Train(groups => new AdamW(groups));
        var reference = Train(groups => new FusedAdamW(groups) { ReferenceOnly = true });
        AssertSameBits(torchSharp, reference);
    }

    [Fact]
    public void Parameters_the_fused_kernel_cannot_take_run_the_op_sequence()
    {
        // float64 parameters and state: no fused CPU path, so FusedAdamW must fall back and still agree exactly.
        var torchSharp = Train(groups => new AdamW(groups), ScalarType.Float64);
        var fused = Train(groups => new FusedAdamW(groups), ScalarType.Float64);
        AssertSameBits(torchSharp, fused);
    }

    /// <summary>Weights of a small MLP after ten training steps (real backward passes, two accumulated per update).</summary>
    private static float[][] TrainMlp(Func<List<AdamW.ParamGroup>, AdamW> create)
    {
        using var scope = NewDisposeScope();
        using var model = new TinyMlp(8, 32, 3, seed: 4);
        var ps = model.parameters().ToList();
        var opt = create([new AdamW.ParamGroup(ps, lr: 1e-2, weight_decay: 0.05)]);
        var gen = new Generator(9);
        for (int step = 0; step < 10; step++)
        {
            opt.zero_grad();
            for (int micro = 0; micro < 2; micro++)
            {
                var x = randn(new long[] { 16, 8 }, generator: gen);
                var y = randint(0, 3, new long[] { 16 }, generator: gen);
                (nn.functional.cross_entropy(model.call(x), y) / 2).backward();
            }
            opt.step();
        }
        return [.. ps.Select(p => p.detach().data<float>().ToArray())];
    }

    [Fact]
    public void Training_with_released_gradients_and_fused_updates_matches_TorchSharps_AdamW_bit_for_bit()
    {
        AssertSameBits(TrainMlp(groups => new AdamW(groups)), TrainMlp(groups => new FusedAdamW(groups)));
    }

    [Fact]
    public void Zero_grad_releases_the_gradients()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(ones(3));
        var opt = new FusedAdamW([p]);
        (p * 2).sum().backward();
        Assert.NotNull(p.grad);
        opt.zero_grad();
        Assert.Null(p.grad);
    }

    [Fact]
    public void A_parameter_without_a_gradient_is_left_alone_and_its_step_count_does_not_advance()
    {
        using var scope = NewDisposeScope();
        var a = new Parameter(ones(4));
        var b = new Parameter(ones(4));
        var opt = new FusedAdamW([a, b], lr: 0.1, weightDecay: 0.1);
        a.grad = ones(4);
        opt.step();
        Assert.All(b.data<float>().ToArray(), x => Assert.Equal(1f, x));
        Assert.True(a.data<float>().ToArray().All(x => x < 1f));
        var steps = opt.state_dict().State.Cast<AdamW.State>().Select(s => s.step).ToArray();
        Assert.Equal(new long[] { 1, 0 }, steps);
    }

    [Fact]
    public void AMSGrad_is_refused_with_a_message_that_names_it()
    {
        using var p = new Parameter(ones(2));
        var e = Assert.Throws<NotSupportedException>(() =>
            new FusedAdamW([new AdamW.ParamGroup([p], amsgrad: true)]));
        Assert.Contains("AMSGrad", e.Message);
    }

    [Fact]
    public void The_trainers_optimizer_is_the_fused_one()
    {
        using var model = new TinyMlp(8, 16, 3, seed: 1);
        Assert.IsType<FusedAdamW>(ParameterGroups.CreateAdamW(model, TrainConfig.Default).Optimizer);
    }

    [Fact]
    public void The_on_device_AdamW_check_passes_the_fused_CPU_update_and_fails_one_without_weight_decay()
    {
        // The rows `rwkv bench wkv --device cuda --check` prints for the CUDA kernel, driven here by CPU updates.
        var cpu = new Device(DeviceType.CPU);
        var good = VisionRwkv.Diagnostics.KernelCheck.AdamWCase(100_000, 3, cpu, FusedAdamW.Update);
        Assert.Equal(["p", "m", "v"], good.Select(r => r.Quantity));
        Assert.All(good, r => Assert.True(r.Pass, $"{r.Quantity}: error {r.Error:E2}"));
        var noDecay = VisionRwkv.Diagnostics.KernelCheck.AdamWCase(100_000, 3, cpu,
            (p, g, m, v, c) => FusedAdamW.Update(p, g, m, v, c with { Decay = 1 }));
        Assert.False(noDecay.Single(r => r.Quantity == "p").Pass);
    }
}
