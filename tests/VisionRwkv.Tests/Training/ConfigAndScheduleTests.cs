using VisionRwkv.Training;

namespace VisionRwkv.Tests.Training;

public class ConfigAndScheduleTests
{
    [Fact]
    public void Warm_up_is_linear_and_cosine_ends_near_the_minimum()
    {
        var s = new LrSchedule(BaseLr: 1.0, MinLr: 0.01, WarmupSteps: 10, TotalSteps: 110, WarmupStartLr: 0.001);
        Assert.Equal(0.001, s.At(0), 12);
        Assert.Equal(0.001 + (1 - 0.001) * 5 / 10.0, s.At(5), 12);
        Assert.Equal(1.0, s.At(10), 12);                            // cosine phase starts at the peak
        Assert.Equal((1.0 + 0.01) / 2, s.At(60), 12);               // half-way through the 100 cosine steps
        Assert.Equal(0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * 99 / 100)), s.At(109), 12);
        Assert.Equal(0.01, s.At(110), 12);
        for (long t = 11; t < 110; t++) Assert.True(s.At(t) <= s.At(t - 1));
    }

    [Fact]
    public void Schedule_from_config_counts_updates_per_epoch()
    {
        var cfg = new TrainConfig { Epochs = 3, LearningRate = 0.1, MinLrRatio = 0.1, WarmupEpochs = 0.5, WarmupStartRatio = 0 };
        var s = LrSchedule.FromConfig(cfg, updatesPerEpoch: 10);
        Assert.Equal(30, s.TotalSteps);
        Assert.Equal(5, s.WarmupSteps);
        Assert.Equal(0.01, s.MinLr, 12);
        Assert.Equal(0.0, s.At(0), 12);
        Assert.Equal(7, LrSchedule.FromConfig(cfg with { WarmupSteps = 7 }, 10).WarmupSteps);
    }

    [Fact]
    public void Config_round_trips_through_json()
    {
        var cfg = TrainConfig.VrwkvImageNet with
        {
            PosWeight = [1.5, 2.0], NoDecayNames = ["pos_embed"], Ema = true, LayerDecay = 0.75, BestMetric = "ema_top1", Device = "cuda:1",
        };
        var json = cfg.ToJson();
        Assert.Contains("\"learning_rate\"", json, StringComparison.Ordinal);
        var back = TrainConfig.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(300, back.Epochs);
        Assert.Equal(new[] { 1.5, 2.0 }, back.PosWeight);
        Assert.Equal("ema_top1", back.BestMetric);
        // Missing options keep defaults.
        Assert.Equal(TrainConfig.Default.ToJson(), TrainConfig.FromJson("{}").ToJson());
    }

    [Fact]
    public void Invalid_options_are_rejected_with_the_option_named()
    {
        var e = Assert.Throws<ArgumentException>(() => (TrainConfig.Default with { BestMetric = "accuracy" }).Validate());
        Assert.Contains("BestMetric", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => (TrainConfig.Default with { GradAccumSteps = 0 }).Validate());
        Assert.Throws<InvalidDataException>(() => TrainConfig.FromJson("{ not json", "x.json"));
    }

    [Fact]
    public void An_unknown_key_is_an_error_that_names_the_key_and_the_file()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainConfig.FromJson("{ \"epochs\": 3, \"learning_rte\": 0.1 }", "run.json"));
        Assert.StartsWith("run.json: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("learning_rte", e.Message, StringComparison.Ordinal);
    }
}
