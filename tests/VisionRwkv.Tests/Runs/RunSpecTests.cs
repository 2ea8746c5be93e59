using VisionRwkv.Runs;
using VisionRwkv.Tests.Checkpoints;

namespace VisionRwkv.Tests.Runs;

/// <summary>Run configs are bound by YamlDotNet and System.Text.Json straight into the records, strictly.</summary>
public sealed class RunSpecTests : IDisposable
{
    private readonly string dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string> ConfigFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "configs")).Order())
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(ConfigFiles))]
    public void Every_file_under_configs_loads_and_validates(string name)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "configs", name);
        if (name.StartsWith("text-", StringComparison.Ordinal))
        {
            // Language-model runs have their own spec (model size, corpus, sequence length) over the same engine.
            var text = VisionRwkv.Text.Training.TextRunSpec.Load(path);
            text.Train.Validate();
            Assert.False(string.IsNullOrWhiteSpace(text.Model));
            return;
        }
        if (name.StartsWith("detect-", StringComparison.Ordinal))
        {
            // Detection runs: the backbone resized, the pyramid, the head, the synthetic set's sizes.
            var detect = VisionRwkv.Detection.Runs.DetectRunSpec.Load(path);
            detect.Train.Validate();
            detect.DetectorConfig(10).Validate();
            return;
        }
        var spec = RunSpec.Load(path);
        spec.Train.Validate();
        spec.Augment.Validate();
        Assert.False(string.IsNullOrWhiteSpace(spec.Model));
    }

    [Fact]
    public void The_long_recipe_yaml_sets_what_it_says()
    {
        var spec = RunSpec.Load(Path.Combine(TestPaths.RepoRoot, "configs", "fashion-mnist-long.yaml"));
        Assert.Equal("vrwkv_mini_28", spec.Model);
        Assert.Equal((0.85, 1.0), spec.Augment.Scale);
        Assert.Equal((0.9, 1.1), spec.Augment.Ratio);
        Assert.Equal(0.5, spec.Augment.Hflip);
        Assert.Equal(0, spec.Augment.ColorJitter);
        Assert.Equal(24, spec.Train.Epochs);
        Assert.Equal(0.004, spec.Train.LearningRate);
        Assert.Equal(0.99, spec.Train.Beta2);
        Assert.True(spec.Train.Ema);
        Assert.Equal("ema_top1", spec.Train.BestMetric);
        // Keys the file leaves out keep the library defaults of their section.
        Assert.Equal(0.9, spec.Train.Beta1);
    }

    [Fact]
    public void Run_json_round_trips_every_field()
    {
        var spec = new RunSpec
        {
            Model = "vit_mini_28", Data = "photos/", ValFraction = 0.2, Threads = 3, LimitTrain = 500, InitFrom = "runs/a",
            Augment = new() { Scale = (0.5, 0.9), AutoAugment = "rand-m9-mstd0.5", MixupAlpha = 0.8, CutmixAlpha = 1.0 },
            Train = RunSpec.MainJob with { PosWeight = [1.5, 2], NoDecayNames = ["pos_embed"], LayerDecay = 0.75, FreezeBackbone = true },
        };
        var path = Path.Combine(dir, "run.json");
        File.WriteAllText(path, spec.ToJson());
        var back = RunSpec.Load(path);
        Assert.Equal(spec.ToJson(), back.ToJson());
        Assert.Equal((0.5, 0.9), back.Augment.Scale);
        Assert.Equal(new[] { 1.5, 2.0 }, back.Train.PosWeight);
        Assert.Equal("runs/a", back.InitFrom);
        Assert.Contains("\"val_fraction\": 0.2", spec.ToJson(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run.yaml", "model: vrwkv_t\ntrain:\n  epochs: 3\n  learning_rte: 0.1\n", "learning_rte")]
    [InlineData("run.yaml", "modle: vrwkv_t\n", "modle")]
    [InlineData("run.json", "{ \"model\": \"vrwkv_t\", \"augment\": { \"hflp\": 0.5 } }", "hflp")]
    public void An_unknown_key_is_an_error_naming_the_key_and_the_file(string name, string text, string key)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        var e = Assert.Throws<InvalidDataException>(() => RunSpec.Load(path));
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_yaml_syntax_error_names_the_file_and_the_line()
    {
        var path = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(path, "model: vrwkv_t\ntrain: [epochs: 3\n");
        var e = Assert.Throws<InvalidDataException>(() => RunSpec.Load(path));
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
        Assert.Contains("line", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_folder_of_the_previous_version_still_opens_with_its_mixup_settings_moved_to_augment()
    {
        // run.json as the previous version wrote it: mixup and CutMix sat in the train section.
        var path = Path.Combine(dir, "run.json");
        File.WriteAllText(path, """
            { "model": "vrwkv_mini_28", "data": "fashion-mnist", "val_fraction": 0.08333333333333333, "threads": 0, "limit_train": null,
              "augment": { "scale": [1, 1], "ratio": [1, 1], "hflip": 0, "vflip": 0, "color_jitter": 0, "auto_augment": null, "reprob": 0 },
              "train": { "epochs": 4, "batch_size": 64, "learning_rate": 0.006, "mixup_alpha": 0.8, "cutmix_alpha": 1,
                         "mixup_prob": 0.5, "mixup_switch_prob": 0.5, "seed": 42, "best_metric": "val_top1" } }
            """);
        var spec = RunSpec.Load(path);
        Assert.Equal(0.8, spec.Augment.MixupAlpha);
        Assert.Equal(1.0, spec.Augment.CutmixAlpha);
        Assert.Equal(0.5, spec.Augment.MixupProb);
        Assert.Equal(4, spec.Train.Epochs);
        // Its config.json (the engine's settings alone) loads too, without the moved keys.
        var config = VisionRwkv.Training.TrainConfig.FromJson("""{ "epochs": 4, "mixup_alpha": 0.8, "cutmix_alpha": 1, "mixup_prob": 0.5, "mixup_switch_prob": 0.5 }""", "config.json");
        Assert.Equal(4, config.Epochs);
    }
}
