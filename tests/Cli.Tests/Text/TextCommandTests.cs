using VisionRwkv.Checkpoints;

namespace VisionRwkv.Cli.Tests.Text;

/// <summary>A theory skipped, with the reason shown, when the shared RWKV-4 text golden is absent.</summary>
internal sealed class TextGoldenTheoryAttribute : TheoryAttribute
{
    public TextGoldenTheoryAttribute()
    {
        if (!File.Exists(TextCommandTests.Golden)) Skip = $"golden absent: {TextCommandTests.Golden}";
    }
}

public class TextCommandTests
{
    internal static string Golden => Path.GetFullPath(Path.Combine(GoldenCommandTests.RepoRoot(), "..", "shared", "goldens", "rwkv4-text", "tiny-rwkv-4v0-660K.safetensors"));

    [TextGoldenTheory]
    [InlineData("parallel")]
    [InlineData("recurrent")]
    public void Text_logits_writes_every_position_and_the_state_and_matches_the_golden(string mode)
    {
        var dir = Directory.CreateTempSubdirectory("rwkv-text-cli-");
        try
        {
            var output = Path.Combine(dir.FullName, "logits.safetensors");
            var (code, text) = CliRunner.Run(["text", "logits", "--model", Golden, "--tokens", "34,105,110", "--mode", mode, "--out", output]);
            Assert.True(code == 0, text);
            using var written = SafeTensors.Read(output);
            using var golden = SafeTensors.Read(Golden);
            Assert.Equal(new long[] { 3, 256 }, written.Tensors["logits"].shape);
            Assert.Equal(new long[] { 4, 5, 1, 128 }, written.Tensors["state"].shape);
            double err = (written.Tensors["logits"][-1] - golden.Tensors["expected_logits"]).abs().max().item<float>();
            Assert.True(err < 2e-5, $"{mode}: {err:E3}");
            // Nothing the user made is overwritten without --force.
            var (again, message) = CliRunner.Run(["text", "logits", "--model", Golden, "--tokens", "1", "--out", output]);
            Assert.Equal(1, again);
            Assert.Contains("--force", message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Text_generate_is_repeatable_with_a_seed_and_text_eval_prints_bits_per_byte()
    {
        // The weights come from one file: a preset name would draw fresh random weights from torch's global generator
        // on every call, which other tests running in parallel also draw from. --seed fixes the sampling.
        var weights = Path.Combine(Path.GetTempPath(), $"rwkv-text-{Guid.NewGuid():N}.safetensors");
        var preset = VisionRwkv.Text.TextModels.Create("rwkv4_byte_2x64");
        VisionRwkv.Text.TextModels.Save(preset, weights);
        preset.Module.Dispose();
        string[] args = ["text", "generate", "--model", weights, "--prompt", "Hello", "--max-tokens", "20", "--seed", "3", "--temperature", "0.7"];
        var (code1, out1) = CliRunner.Run(args);
        var (code2, out2) = CliRunner.Run(args);
        File.Delete(weights);
        Assert.True(code1 == 0 && code2 == 0, out1);
        Assert.Equal(out1, out2.Replace(Timing(out2), Timing(out1), StringComparison.Ordinal));
        Assert.Contains("20 new tokens", out1);

        var data = Path.Combine(Path.GetTempPath(), $"rwkv-text-{Guid.NewGuid():N}.txt");
        File.WriteAllText(data, "The quick brown fox jumps over the lazy dog.\n");
        try
        {
            var (code, output) = CliRunner.Run(["text", "eval", "--model", "gpt_byte_2x64", "--data", data]);
            Assert.True(code == 0, output);
            Assert.Contains("44 tokens, 44 bytes", output);
            Assert.Contains("bits/byte", output);
        }
        finally
        {
            File.Delete(data);
        }
    }

    [Fact]
    public void Generation_after_a_state_saved_by_text_logits_continues_as_if_the_prefix_were_in_the_prompt()
    {
        var dir = Directory.CreateTempSubdirectory("rwkv-text-cli-");
        try
        {
            // One weights file for all three calls (a preset name would draw fresh weights from the global generator).
            var weights = Path.Combine(dir.FullName, "weights.safetensors");
            var preset = VisionRwkv.Text.TextModels.Create("rwkv4_byte_2x64");
            VisionRwkv.Text.TextModels.Save(preset, weights);
            preset.Module.Dispose();
            var state = Path.Combine(dir.FullName, "prefix.safetensors");
            var (code, output) = CliRunner.Run(["text", "logits", "--model", weights, "--text", "Hello wor", "--out", state]);
            Assert.True(code == 0, output);
            string[] common = ["--model", weights, "--max-tokens", "12", "--temperature", "0"];
            var (c1, whole) = CliRunner.Run(["text", "generate", .. common, "--prompt", "Hello world"]);
            var (c2, continued) = CliRunner.Run(["text", "generate", .. common, "--prompt", "ld", "--state", state]);
            Assert.True(c1 == 0 && c2 == 0, whole + continued);
            Assert.Contains("continuing after 9 tokens", continued);
            // Greedy decoding from the same context: the generated text after the prompt is identical.
            static string Generated(string output, string prompt)
            {
                int start = output.IndexOf("\n" + prompt, StringComparison.Ordinal) + 1 + prompt.Length;
                int end = output.IndexOf("\nprompt ", start, StringComparison.Ordinal);
                return output[start..end];
            }
            var expected = Generated(whole, "Hello world");
            Assert.NotEmpty(expected);
            Assert.Equal(expected, Generated(continued, "ld"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Bad_token_ids_and_missing_files_fail_with_a_message()
    {
        var (code, output) = CliRunner.Run(["text", "logits", "--model", "rwkv4_byte_2x64", "--tokens", "1,999", "--out", Path.Combine(Path.GetTempPath(), $"x{Guid.NewGuid():N}.safetensors")]);
        Assert.Equal(1, code);
        Assert.Contains("0..255", output);
        (code, output) = CliRunner.Run(["text", "eval", "--model", "no-such-model.pth", "--data", "x.txt"]);
        Assert.Equal(1, code);
    }

    /// <summary>The timing line differs between runs; everything else must not.</summary>
    private static string Timing(string output) => output.Split('\n').First(l => l.StartsWith("prompt ", StringComparison.Ordinal));
}
