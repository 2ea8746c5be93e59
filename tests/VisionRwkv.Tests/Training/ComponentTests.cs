using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Training;

public class ComponentTests
{
    [Fact]
    public void Soft_cross_entropy_on_one_hot_targets_equals_torch_label_smoothed_cross_entropy()
    {
        using var scope = NewDisposeScope();
        var g = new torch.Generator(3);
        var logits = torch.randn(new long[] { 6, 4 }, generator: g);
        var labels = torch.tensor(new long[] { 0, 3, 1, 2, 2, 0 });
        var viaTorch = Losses.Compute(logits, labels, multiLabel: false, labelSmoothing: 0.1).item<float>();
        var viaSoft = Losses.Compute(logits, nn.functional.one_hot(labels, 4).to_type(ScalarType.Float32), false, 0.1).item<float>();
        Assert.Equal(viaTorch, viaSoft, 5);
    }

    [Fact]
    public void Bce_with_pos_weight_matches_the_formula()
    {
        using var scope = NewDisposeScope();
        // One sample, two labels: z = [0, 2], y = [1, 0], pos_weight = [3, 1].
        // loss_k = -(w_k * y log s(z) + (1-y) log(1-s(z))); mean over 2 entries.
        var loss = Losses.Compute(torch.tensor(new float[] { 0, 2 }, new long[] { 1, 2 }), torch.tensor(new float[] { 1, 0 }, new long[] { 1, 2 }),
            multiLabel: true, posWeight: torch.tensor(new float[] { 3, 1 })).item<float>();
        double sig2 = 1 / (1 + Math.Exp(-2));
        double expected = (-3 * Math.Log(0.5) - Math.Log(1 - sig2)) / 2;
        Assert.Equal(expected, loss, 5);
    }

    [Fact]
    public void Norm_weights_biases_and_one_dimensional_parameters_get_no_weight_decay_by_default()
    {
        using var model = new TinyMlp(8, 16, 3, seed: 1);
        var (decay, noDecay) = ParameterGroups.Split(model, TrainConfig.Default);
        Assert.Equal(new[] { "fc1.weight", "fc2.weight" }, decay.Select(d => d.Name).ToArray());
        Assert.Equal(new[] { "fc1.bias", "norm.weight", "norm.bias", "fc2.bias" }, noDecay.Select(d => d.Name).ToArray());
        var all = ParameterGroups.Split(model, TrainConfig.Default with { DecayNormAndBias = true });
        Assert.Empty(all.NoDecay);
        var named = ParameterGroups.Split(model, TrainConfig.Default with { NoDecayNames = ["fc2"] });
        Assert.Equal(new[] { "fc1.weight" }, named.Decay.Select(d => d.Name).ToArray());
        // A 1-D parameter outside norms that is not a bias (e.g. spatial_decay) follows DecayOneDimensional.
        Assert.False(ParameterGroups.GetsWeightDecay("blocks.0.att.spatial_decay", 1, false, TrainConfig.Default));
        Assert.True(ParameterGroups.GetsWeightDecay("blocks.0.att.spatial_decay", 1, false, TrainConfig.Default with { DecayOneDimensional = true }));
        Assert.False(ParameterGroups.GetsWeightDecay("norm.bias", 1, true, TrainConfig.Default with { DecayOneDimensional = true }));
    }

    [Fact]
    public void Safetensors_store_round_trips_tensors_and_metadata()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "x.safetensors");
        using var a = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        using var b = torch.tensor(new long[] { -5, 7 });
        using var c = torch.tensor(new byte[] { 1, 2, 3 });
        using var t = a.t(); // non-contiguous view is written in logical order
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c, ["t"] = t }, new Dictionary<string, string> { ["k"] = "v" });
        using var file = SafeTensors.Read(path);
        var (tensors, meta) = (file.Tensors, file.Metadata);
        {
            Assert.Equal("v", meta["k"]);
            Assert.Equal(a.data<float>().ToArray(), tensors["a"].data<float>().ToArray());
            Assert.Equal(new long[] { 3, 4 }, tensors["a"].shape);
            Assert.Equal(new long[] { -5, 7 }, tensors["b"].data<long>().ToArray());
            Assert.Equal(ScalarType.Byte, tensors["c"].dtype);
            Assert.Equal(t.contiguous().data<float>().ToArray(), tensors["t"].data<float>().ToArray());
            Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        }
    }

    [Fact]
    public void Truncated_checkpoint_is_rejected_naming_the_file()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "bad.safetensors");
        using var a = torch.ones(100);
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["a"] = a });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("bad.safetensors", e.Message, StringComparison.Ordinal);
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
    }

    [Fact]
    public void Ema_follows_the_decay_formula_and_apply_restores_the_weights()
    {
        using var model = new TinyMlp(8, 4, 2, seed: 2);
        var p = model.named_parameters().First(n => n.name == "fc2.bias").parameter;
        using var ema = new ModelEma(model, decay: 0.9, warmup: false);
        var start = p.data<float>().ToArray();
        using (no_grad()) p.add_(1.0f);
        ema.Update(1);
        // shadow = 0.9 * start + 0.1 * (start + 1) = start + 0.1
        var shadow = ema.State.First(kv => kv.Key == "fc2.bias").Value.data<float>().ToArray();
        for (int i = 0; i < start.Length; i++) Assert.Equal(start[i] + 0.1f, shadow[i], 5);
        var current = p.data<float>().ToArray();
        using (ema.Apply())
            Assert.Equal(shadow, p.data<float>().ToArray());
        Assert.Equal(current, p.data<float>().ToArray());
        Assert.Equal(Math.Min(0.9, 2.0 / 11), new ModelEma(model, 0.9, warmup: true).DecayAt(1), 12);
    }

    [Fact]
    public void The_fused_ema_update_gives_the_same_bits_as_the_op_sequence()
    {
        // Weights of 1..3 x 65,536 elements: SIMD bodies, scalar tails and several parallel chunks.
        float[][] Run(bool reference)
        {
            using var scope = NewDisposeScope();
            using var model = nn.Sequential(nn.Linear(300, 700), nn.Linear(700, 7), nn.LayerNorm(7));
            var gen = new Generator(21);
            using (no_grad())
                foreach (var p in model.parameters())
                    p.copy_(randn(p.shape, generator: gen));
            using var ema = new ModelEma(model, decay: 0.999, warmup: true) { ReferenceOnly = reference };
            for (long update = 1; update <= 6; update++)
            {
                using (no_grad())
                    foreach (var p in model.parameters())
                        p.add_(randn(p.shape, generator: gen) * 0.01);
                ema.Update(update);
            }
            return [.. ema.State.Select(kv => kv.Value.data<float>().ToArray())];
        }
        var (expected, actual) = (Run(reference: true), Run(reference: false));
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
            Assert.True(expected[t].Select(BitConverter.SingleToInt32Bits).SequenceEqual(actual[t].Select(BitConverter.SingleToInt32Bits)),
                $"shadow tensor {t} differs");
    }

    [Fact]
    public void Predict_top_k_returns_softmax_probabilities_best_first()
    {
        using var model = new TinyMlp(8, 4, 3, seed: 4);
        using var images = torch.randn(new long[] { 2, 2, 2, 2 }, generator: new torch.Generator(9));
        using var logits = model.call(images);
        using var probs = logits.softmax(1);
        var p = probs.data<float>().ToArray();
        var top = Evaluator.PredictTopK(model, images, k: 2);
        for (int i = 0; i < 2; i++)
        {
            var expected = Enumerable.Range(0, 3).OrderByDescending(j => p[i * 3 + j]).Take(2).ToArray();
            Assert.Equal(expected, top[i].Select(t => t.ClassIndex).ToArray());
            Assert.Equal(p[i * 3 + expected[0]], top[i][0].Probability, 6);
        }
        Assert.Equal(3, Evaluator.PredictTopK(model, images, k: 10)[0].Length);
    }

    [Fact]
    public void Layer_decay_and_a_backbone_scale_give_each_depth_its_learning_rate()
    {
        using var model = new VisionRwkv.Models.VrwkvClassifier(VisionRwkv.Models.VrwkvConfig.Mini28);
        var classifier = (VisionRwkv.Models.IImageClassifier)model;
        var layers = new ParameterLayers(classifier.LayerCount, classifier.LayerIdOf, classifier.IsHead);
        var cfg = TrainConfig.Default with { LearningRate = 0.01, LayerDecay = 0.5, BackboneLrScale = 0.1 };
        var (optimizer, scales) = ParameterGroups.CreateAdamW(model, cfg, layers);
        using (optimizer)
        {
            // L = 3 blocks: embeddings get 0.5^4, block i gets 0.5^(3-i), the final norm and the head 1; all but the head x0.1.
            var expected = new Dictionary<string, double>
            {
                ["backbone.pos_embed"] = 0.1 * Math.Pow(0.5, 4),
                ["backbone.patch_embed.projection.weight"] = 0.1 * Math.Pow(0.5, 4),
                ["backbone.layers.0.att.key.weight"] = 0.1 * Math.Pow(0.5, 3),
                ["backbone.layers.2.ffn.value.weight"] = 0.1 * 0.5,
                ["backbone.ln1.weight"] = 0.1,
                ["head.fc.weight"] = 1.0,
            };
            var named = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var groups = optimizer.ParamGroups.Cast<TorchSharp.Modules.AdamW.ParamGroup>().ToList();
            foreach (var (name, scale) in expected)
            {
                int g = groups.FindIndex(group => group.Parameters.Any(p => ReferenceEquals(p, named[name])));
                Assert.True(g >= 0, name);
                Assert.Equal(scale, scales[g], 12);
                Assert.Equal(0.01 * scale, groups[g].LearningRate, 12);
            }
        }
        // Without layers or with every multiplier at 1: the two groups of the plain recipe, decayed first.
        var (plain, plainScales) = ParameterGroups.CreateAdamW(model, TrainConfig.Default, layers);
        using (plain)
            Assert.Equal(new[] { 1.0, 1.0 }, plainScales);
    }
}
