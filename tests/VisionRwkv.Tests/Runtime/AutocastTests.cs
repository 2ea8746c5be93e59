using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Models;
using VisionRwkv.Runtime;
using VisionRwkv.Tests.Training;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Runtime;

/// <summary>
/// Mixed precision (<see cref="Autocast"/>): off, every layer is bit-identical to its plain call; on, results stay
/// float32 and within bfloat16's rounding of the float32 computation (the slow, exact reference), and gradients reach
/// the float32 weights.
/// </summary>
[Collection("TorchGeneratorCollection")]
public sealed class AutocastTests
{
    private static float RelativeError(Tensor actual, Tensor expected) =>
        ((actual - expected).norm() / expected.norm()).item<float>();

    /// <summary>A GroupNorm with PyTorch's initial parameters set explicitly: TorchSharp 0.107 has left them uninitialised
    /// (NaN seen here; VrwkvDetector does the same).</summary>
    private static GroupNorm Norm(int groups, int channels)
    {
        var norm = nn.GroupNorm(groups, channels);
        using var noGrad = no_grad();
        nn.init.ones_(norm.weight!);
        nn.init.zeros_(norm.bias!);
        return norm;
    }

    [Fact]
    public void Without_autocast_every_helper_is_exactly_the_plain_call()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var linear = nn.Linear(32, 48);
        var conv = nn.Conv2d(8, 16, 3, padding: 1);
        var deconv = nn.ConvTranspose2d(8, 4, 2, stride: 2);
        var sequence = nn.Sequential(nn.Conv2d(8, 8, 3, padding: 1), Norm(4, 8), nn.ReLU());
        var x = randn(4, 10, 32);
        var image = randn(2, 8, 6, 6);
        Assert.Null(Autocast.Current);
        Assert.True(Autocast.Linear(linear, x).equal(linear.call(x)).all().item<bool>());
        Assert.True(Autocast.Conv2d(conv, image).equal(conv.call(image)).all().item<bool>());
        Assert.True(Autocast.ConvTranspose2d(deconv, image).equal(deconv.call(image)).all().item<bool>());
        Assert.True(Autocast.Sequential(sequence, image).equal(sequence.call(image)).all().item<bool>());
    }

    [Fact]
    public void Under_bfloat16_results_stay_float32_and_within_bfloat16_rounding_of_the_float32_computation()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var linear = nn.Linear(64, 96);
        var conv = nn.Conv2d(8, 16, 3, padding: 1, stride: 2);
        var deconv = nn.ConvTranspose2d(8, 4, 2, stride: 2);
        var sequence = nn.Sequential(nn.Conv2d(8, 8, 3, padding: 1), Norm(4, 8), nn.ReLU(), nn.Conv2d(8, 4, 1));
        var x = randn(4, 10, 64);
        var image = randn(2, 8, 9, 9);
        Tensor[] expected = [linear.call(x), conv.call(image), deconv.call(image), sequence.call(image)];
        Tensor[] actual;
        using (Autocast.Enable(ScalarType.BFloat16))
        {
            Assert.Equal(ScalarType.BFloat16, Autocast.Current);
            actual = [Autocast.Linear(linear, x), Autocast.Conv2d(conv, image), Autocast.ConvTranspose2d(deconv, image), Autocast.Sequential(sequence, image)];
        }
        Assert.Null(Autocast.Current);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(ScalarType.Float32, actual[i].dtype);
            Assert.Equal(expected[i].shape, actual[i].shape);
            // bfloat16 keeps 8 significant bits (relative rounding 2^-9 per input): a few thousandths after one product;
            // the sequence (conv, GroupNorm, ReLU, conv) rounds twice and its norm rescales the first error (2.6% seen).
            float error = RelativeError(actual[i], expected[i]);
            float bound = i == 3 ? 0.06f : 0.02f;
            Assert.True(error > 0 && error < bound, $"output {i}: relative error {error} (bound {bound})");
        }
    }

    [Fact]
    public void Gradients_reach_the_float32_weights_and_agree_with_float32_training()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var linear = nn.Linear(64, 32);
        var x = randn(16, 64);
        linear.call(x).square().sum().backward();
        var exact = linear.weight!.grad!.clone();
        linear.zero_grad();
        using (Autocast.Enable(ScalarType.BFloat16))
            Autocast.Linear(linear, x).square().sum().backward();
        var mixed = linear.weight!.grad!;
        Assert.Equal(ScalarType.Float32, linear.weight.dtype);
        Assert.Equal(ScalarType.Float32, mixed.dtype);
        float error = RelativeError(mixed, exact);
        Assert.True(error is > 0 and < 0.03f, $"gradient relative error {error}");
    }

    [Fact]
    public void A_Vision_RWKV_under_bfloat16_gives_the_float32_logits_to_within_a_few_percent()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(4);
        using var model = new VrwkvClassifier(VrwkvConfig.Mini28);
        model.eval();
        var image = randn(4, 1, 28, 28);
        using var noGrad = no_grad();
        var exact = model.call(image);
        Tensor mixed;
        using (Autocast.Enable(ScalarType.BFloat16))
            mixed = model.call(image);
        float error = RelativeError(mixed, exact);
        Assert.True(error is > 0 and < 0.05f, $"logits relative error {error}: the blocks did not autocast (0) or drifted");
    }

    [Fact]
    public void Scopes_nest_and_restore_and_only_half_precision_types_are_accepted()
    {
        using (Autocast.Enable(ScalarType.BFloat16))
        {
            using (Autocast.Enable(null))
                Assert.Null(Autocast.Current);
            Assert.Equal(ScalarType.BFloat16, Autocast.Current);
        }
        Assert.Null(Autocast.Current);
        Assert.Throws<ArgumentException>(() => Autocast.Enable(ScalarType.Int8));
        Assert.Equal(ScalarType.BFloat16, Autocast.Parse("bf16"));
        Assert.Null(Autocast.Parse("float32"));
        var error = Assert.Throws<ArgumentException>(() => Autocast.Parse("int8"));
        Assert.Contains("precision 'int8'", error.Message);
        var config = Assert.Throws<ArgumentException>(() => new TrainConfig { Precision = "int8" }.Validate());
        Assert.Contains("Precision", config.Message);
    }

    [Fact]
    public void The_trainer_runs_forward_passes_in_the_configured_precision_and_only_there()
    {
        using var dir = new TempDir();
        using var model = new PrecisionProbe();
        var config = new TrainConfig { Epochs = 1, LearningRate = 0.01, WarmupEpochs = 0, KeepCheckpoints = 0, Precision = "bfloat16" };
        using var trainer = new Trainer(model, config, new TrainingData(new BlobSource(3, 32, 16, dataSeed: 1), new BlobSource(3, 16, 16, dataSeed: 2, shuffle: false)), dir.Path,
            new TrainerOptions { ClassNames = ["a", "b", "c"] });
        trainer.Fit();
        Assert.Contains(ScalarType.BFloat16, model.Seen);
        Assert.Null(Autocast.Current);
    }

    /// <summary>A linear classifier that records the ambient precision of every forward pass.</summary>
    private sealed class PrecisionProbe : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc;

        public PrecisionProbe() : base(nameof(PrecisionProbe))
        {
            fc = nn.Linear(8, 3);
            RegisterComponents();
        }

        public List<ScalarType?> Seen { get; } = [];

        public override Tensor forward(Tensor x)
        {
            Seen.Add(Autocast.Current);
            return Autocast.Linear(fc, x.flatten(1));
        }
    }
}
