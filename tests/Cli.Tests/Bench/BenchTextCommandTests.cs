using System.Text.Json;

namespace VisionRwkv.Cli.Tests.Bench;

public class BenchTextCommandTests
{
    [Fact]
    public void A_small_text_run_prints_both_parts_and_writes_json_and_a_plot()
    {
        var dir = Directory.CreateTempSubdirectory("bench-text-cli-");
        try
        {
            string json = Path.Combine(dir.FullName, "text.json"), png = Path.Combine(dir.FullName, "text.png");
            var (code, output) = CliRunner.Run(["bench", "text", "--size", "2x64", "--contexts", "16,64", "--steps", "2",
                "--seq-lens", "32,64", "--tokens-per-step", "128", "--iters", "1", "--json", json, "--plot", png]);
            Assert.True(code == 0, output);
            Assert.Contains("rwkv4: time per token at 64 vs 16 tokens of context", output, StringComparison.Ordinal);
            Assert.Contains("training at seq 64: rwkv4 / gpt tokens/s", output, StringComparison.Ordinal);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var rows = doc.RootElement.EnumerateArray().ToList();
            Assert.Equal(4, rows.Count(r => r.GetProperty("kind").GetString() == "generate"));
            Assert.Equal(4, rows.Count(r => r.GetProperty("kind").GetString() == "train"));
            // The GPT's cache grows with the context (2·L·C floats per token); RWKV's state does not.
            long State(string model, int context) => rows.Single(r => r.GetProperty("kind").GetString() == "generate"
                && r.GetProperty("model").GetString() == model && r.GetProperty("context").GetInt32() == context).GetProperty("state_bytes").GetInt64();
            Assert.Equal(State("rwkv4", 16), State("rwkv4", 64));
            Assert.True(State("gpt", 64) > 3 * State("gpt", 16));
            Assert.True(new FileInfo(png).Length > 1000);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Bad_options_are_rejected_with_the_reason()
    {
        var (code, output) = CliRunner.Run(["bench", "text", "--size", "9x9"]);
        Assert.Equal(2, code);
        Assert.Contains("6x256 or 2x64", output, StringComparison.Ordinal);
        (code, output) = CliRunner.Run(["bench", "text", "--contexts", "0"]);
        Assert.Equal(2, code);
        Assert.Contains("positive integer", output, StringComparison.Ordinal);
    }
}
