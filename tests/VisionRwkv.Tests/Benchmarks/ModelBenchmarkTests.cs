using System.Text.Json;
using VisionRwkv.Benchmarks;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Benchmarks;

public class ModelBenchmarkTests
{
    [Theory]
    [InlineData("vrwkv_mini_28", BenchMode.Infer)]
    [InlineData("vrwkv_mini_28", BenchMode.Train)]
    [InlineData("vit_mini_28", BenchMode.Train)]
    public void A_small_model_runs_and_reports_speed_memory_and_peak_fraction(string model, BenchMode mode)
    {
        var record = ModelBenchmark.Run(new BenchConfig(model, 28, 2, mode, "cpu", ScalarType.Float32, Warmup: 1, Iterations: 5), 1e10);
        Assert.Null(record.Error);
        Assert.Equal(49 + (model.StartsWith("vit", StringComparison.Ordinal) ? 1 : 0), record.Tokens);
        Assert.Equal(5, record.IterS!.Count);
        Assert.Equal(2 / Timing.Median(record.IterS), record.ImgPerS!.Value, 9);
        Assert.True(record.PeakMemMb > 10, $"peak memory {record.PeakMemMb} MiB");
        Assert.NotNull(record.MemSource);
        // peak_fraction = FLOPs per image for the mode × images/s over the peak.
        Assert.Equal(record.GflopsPerImg * 1e9 * record.ImgPerS!.Value / 1e10, record.PeakFraction!.Value, 9);
        Assert.Equal(mode == BenchMode.Train ? "train" : "infer", record.Mode);
    }

    [Fact]
    public void Models_run_together_get_one_record_each_in_the_order_given()
    {
        var configs = new[] { "vrwkv_mini_28", "vit_mini_28" }
            .Select(m => new BenchConfig(m, 28, 2, BenchMode.Infer, "cpu", ScalarType.Float32, Warmup: 1, Iterations: 5)).ToList();
        var records = ModelBenchmark.RunTogether(configs, 1e10);
        Assert.Equal(["vrwkv_mini_28", "vit_mini_28"], records.Select(r => r.Model));
        Assert.All(records, r =>
        {
            Assert.Null(r.Error);
            Assert.Equal(5, r.IterS!.Count);
            Assert.True(r.PeakMemMb > 10, $"{r.Model}: peak memory {r.PeakMemMb} MiB");
            Assert.Equal(2 / Timing.Median(r.IterS), r.ImgPerS!.Value, 9);
        });
    }

    [Fact]
    public void Configurations_run_together_must_differ_only_in_the_model()
    {
        var a = new BenchConfig("vrwkv_mini_28", 28, 2, BenchMode.Infer, "cpu", ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => ModelBenchmark.RunTogether([a, a with { Model = "vit_mini_28", Res = 56 }]));
        Assert.Contains("differ only in the model", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bfloat16_runs_the_model_in_bfloat16()
    {
        // LibTorch's CPU kernels cover every op of the model in bfloat16 (the WKV core computes in float32 inside),
        // so a failure here is a real regression, not an unsupported configuration.
        var record = ModelBenchmark.Run(new BenchConfig("vrwkv_mini_28", 28, 2, BenchMode.Infer, "cpu", ScalarType.BFloat16, Warmup: 1, Iterations: 5));
        Assert.Equal("bfloat16", record.DType);
        Assert.True(record.Error is null, record.Error);
        Assert.True(record.ImgPerS > 0);
        Assert.Null(record.PeakFraction);   // no peak given
    }

    [Fact]
    public void An_unknown_model_is_an_argument_error_naming_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelBenchmark.Run(new BenchConfig("nope", 28, 1, BenchMode.Infer, "cpu", ScalarType.Float32)));
        Assert.Contains("vrwkv_t", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_uses_the_issue_field_names_and_round_trips()
    {
        var records = new[]
        {
            new BenchRecord { Model = "vrwkv_t", Res = 224, Batch = 8, Mode = "infer", Device = "cpu", DType = "float32", Tokens = 196,
                ImgPerS = 12.5, PeakMemMb = 300, PeakFraction = 0.41, GflopsPerImg = 2.3 },
            new BenchRecord { Model = "vit_t", Res = 1344, Batch = 1, Mode = "infer", Device = "cuda", DType = "bfloat16", Error = "out of memory" },
        };
        var dir = Directory.CreateTempSubdirectory("bench-json-");
        try
        {
            var path = Path.Combine(dir.FullName, "out.json");
            ModelBenchmark.WriteJson(path, records);
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var first = doc.RootElement[0];
            foreach (var key in new[] { "model", "res", "batch", "mode", "device", "dtype", "img_per_s", "peak_mem_mb", "peak_fraction" })
                Assert.True(first.TryGetProperty(key, out _), $"missing {key}");
            Assert.False(doc.RootElement[1].TryGetProperty("peak_fraction", out _));
            var back = ModelBenchmark.ReadJson(path);
            Assert.Equal(records[0] with { IterS = null }, back[0] with { IterS = null });
            Assert.Equal("out of memory", back[1].Error);
            Assert.Empty(Directory.GetFiles(dir.FullName, "*.tmp"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Reading_a_file_that_is_not_a_record_list_names_the_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bench-bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{\"model\": 3}");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => ModelBenchmark.ReadJson(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
