using System.Text.Json;

namespace VisionRwkv.Cli.Tests.Bench;

public class BenchModelCommandTests
{
    [Fact]
    public void Asking_for_cuda_without_a_cuda_libtorch_is_a_clear_error()
    {
        if (TorchSharp.torch.cuda.is_available()) return;   // on a GPU machine the command would run instead
        var (code, output) = CliRunner.Run(["bench", "model", "--models", "vrwkv_mini_28", "--res", "28", "--device", "cuda"]);
        Assert.NotEqual(0, code);
        Assert.Contains("CUDA", output, StringComparison.Ordinal);
        Assert.Contains("--device cpu", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--iters", "3", "at least 5")]
    [InlineData("--mode", "fit", "infer or train")]
    [InlineData("--dtype", "float64", "float32 or bfloat16")]
    [InlineData("--batch", "1,2", "one per resolution")]
    [InlineData("--models", "vrwkv_x", "unknown model")]
    public void Bad_options_are_rejected_with_the_reason(string option, string value, string reason)
    {
        var args = new Dictionary<string, string> { ["--models"] = "vrwkv_mini_28", ["--res"] = "28", [option] = value };
        var (code, output) = CliRunner.Run(["bench", "model", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);
        Assert.Equal(2, code);
        Assert.Contains(reason, output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_small_run_prints_a_table_and_writes_json_and_a_plot()
    {
        var dir = Directory.CreateTempSubdirectory("bench-cli-");
        try
        {
            string json = Path.Combine(dir.FullName, "bench.json"), png = Path.Combine(dir.FullName, "bench.png");
            var (code, output) = CliRunner.Run(["bench", "model", "--models", "vrwkv_mini_28,vit_mini_28", "--res", "28,32",
                "--batch", "2,1", "--warmup", "0", "--peak-size", "256", "--json", json, "--plot", png]);
            Assert.True(code == 0, output);
            Assert.Contains("matmul peak:", output, StringComparison.Ordinal);
            Assert.Contains("vrwkv_mini_28 vs vit_mini_28:", output, StringComparison.Ordinal);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            Assert.Equal(4, doc.RootElement.GetArrayLength());
            var last = doc.RootElement[3];
            Assert.Equal("vit_mini_28", last.GetProperty("model").GetString());
            Assert.Equal(32, last.GetProperty("res").GetInt32());
            Assert.Equal(1, last.GetProperty("batch").GetInt32());
            Assert.True(last.GetProperty("img_per_s").GetDouble() > 0);
            Assert.True(last.GetProperty("peak_fraction").GetDouble() > 0);
            var head = File.ReadAllBytes(png).Take(8).ToArray();
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, head);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
