using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using VisionRwkv.Text.Training;

namespace VisionRwkv.Cli.Tests.Text;

public sealed partial class TextTrainCommandTests : IDisposable
{
    private readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("rwkv-text-train-cli-");

    public void Dispose() => dir.Delete(recursive: true);

    [Fact]
    public void Text_train_leaves_a_model_that_text_eval_and_text_generate_reopen()
    {
        var data = Path.Combine(dir.FullName, "text.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("Pack my box with five dozen liquor jugs. ", 200)));
        var run = Path.Combine(dir.FullName, "run");
        // gpt_byte_2x64 has 2 heads of 32: the head count is not in the weights' shapes, so the model file must carry it.
        var (code, output) = CliRunner.Run(["text", "train", "--data", data, "--model", "gpt_byte_2x64", "--epochs", "2",
            "--steps-per-epoch", "5", "--batch-size", "4", "--seq-len", "32", "--lr", "0.003", "--device", "cpu", "--output", run]);
        Assert.True(code == 0, output);
        Assert.Contains("test bits/byte", output);
        var model = Path.Combine(run, "model.safetensors");
        foreach (var file in new[] { "text_run.json", "config.json", "summary.csv", "metrics.json", "last.safetensors", "best.safetensors" })
            Assert.True(File.Exists(Path.Combine(run, file)), file);

        // text eval in windows of the training length from an empty context is exactly the trainer's held-out pass.
        var held = Path.Combine(dir.FullName, "held-out.txt");
        File.WriteAllText(held, TextCorpus.File(data).Test);
        var (evalCode, evalOutput) = CliRunner.Run(["text", "eval", "--model", model, "--data", held, "--context", "32"]);
        Assert.True(evalCode == 0, evalOutput);
        double evalBpb = double.Parse(Bpb().Match(evalOutput).Groups[1].Value, CultureInfo.InvariantCulture);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        double trainBpb = metrics.RootElement.GetProperty("test_bpb").GetDouble();
        Assert.Equal(trainBpb, evalBpb, 3);

        var (genCode, genOutput) = CliRunner.Run(["text", "generate", "--model", model, "--prompt", "Pack my", "--max-tokens", "12", "--seed", "1"]);
        Assert.True(genCode == 0, genOutput);
        Assert.Contains("12 new tokens", genOutput);

        // The same folder is never trained over.
        var (again, message) = CliRunner.Run(["text", "train", "--data", data, "--model", "gpt_byte_2x64", "--epochs", "1", "--output", run]);
        Assert.Equal(1, again);
        Assert.Contains("already holds a run", message);
    }

    [GeneratedRegex(@"([0-9.]+) bits/byte")]
    private static partial Regex Bpb();
}
