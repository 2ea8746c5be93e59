using System.Text.Json;

namespace VisionRwkv.Cli.Tests;

/// <summary>The three user-facing commands chained on a tiny Fashion-MNIST run, as a user would run them.</summary>
public class TrainEvalPredictTests
{
    private static bool HaveFashionMnist =>
        File.Exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
        || File.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rwkv", "fashion-mnist", "train-images-idx3-ubyte.gz"));

    [Fact]
    public void Train_writes_a_run_folder_that_eval_and_predict_reopen()
    {
        Assert.True(HaveFashionMnist, "Fashion-MNIST is missing: ./test.sh installs it (scripts/prereqs.sh)");
        var run = Path.Combine(Path.GetTempPath(), $"rwkv-run-{Guid.NewGuid():N}");
        try
        {
            var (code, output) = CliRunner.Run(["train", "--epochs", "1", "--limit-train", "600", "--val-fraction", "0.05", "--batch-size", "64", "-o", run]);
            Assert.True(code == 0, output);
            foreach (var f in new[] { "run.json", "class_map.json", "summary.csv", "metrics.json", "model.safetensors", "last.safetensors", "loss.png" })
                Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing from the run folder:\n{output}");
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
            double top1 = metrics.RootElement.GetProperty("test_top1").GetDouble();
            // 600 images for one epoch: far from converged, but well above chance (0.1) for ten classes.
            Assert.InRange(top1, 0.2, 1.0);

            (code, output) = CliRunner.Run(["eval", run]);
            Assert.True(code == 0, output);
            // eval reopens the saved best weights and must reproduce the accuracy the run recorded.
            Assert.Contains($"top-1 {top1 * 100:F2}%", output);

            var images = Path.Combine(run, "images");
            Directory.CreateDirectory(images);
            File.WriteAllBytes(Path.Combine(images, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
            WriteGrayPng(Path.Combine(images, "ok.png"));
            var csv = Path.Combine(run, "predictions.csv");
            (code, output) = CliRunner.Run(["predict", run, images, "-k", "2", "-o", csv]);
            Assert.True(code == 2, "a skipped file makes the exit code 2:\n" + output);
            Assert.Contains("broken.png", output);
            var lines = File.ReadAllLines(csv);
            Assert.Equal(2, lines.Length);                       // header + the one readable image
            Assert.StartsWith("file,label_1,prob_1,label_2,prob_2", lines[0], StringComparison.Ordinal);
            Assert.Contains("ok.png", lines[1]);

            (code, output) = CliRunner.Run(["predict", run, images, "-o", csv]);
            Assert.Equal(1, code);                               // never overwrites without --force
            Assert.Contains("--force", output);
        }
        finally
        {
            if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
        }
    }

    [Fact]
    public void Init_from_a_run_fine_tunes_a_frozen_backbone_on_a_folder_with_another_class_count()
    {
        Assert.True(HaveFashionMnist, "Fashion-MNIST is missing: ./test.sh installs it (scripts/prereqs.sh)");
        var root = Path.Combine(Path.GetTempPath(), $"rwkv-finetune-{Guid.NewGuid():N}");
        try
        {
            var pretrained = Path.Combine(root, "pretrained");
            var (code, output) = CliRunner.Run(["train", "--epochs", "1", "--limit-train", "300", "--val-fraction", "0.05", "-o", pretrained]);
            Assert.True(code == 0, output);

            // A folder of three classes (stripes at three angles), 28x28 gray like the model's input.
            var folder = Path.Combine(root, "shapes");
            for (int c = 0; c < 3; c++)
            {
                Directory.CreateDirectory(Path.Combine(folder, $"class{c}"));
                for (int i = 0; i < 12; i++)
                    WriteGrayPng(Path.Combine(folder, $"class{c}", $"{i}.png"), (x, y) => (byte)(((c == 0 ? x : c == 1 ? y : x + y) + i) % 7 < 3 ? 230 : 20));
            }
            var tuned = Path.Combine(root, "tuned");
            (code, output) = CliRunner.Run(["train", "--data", folder, "--init-from", pretrained, "--freeze-backbone", "--epochs", "1",
                "--batch-size", "8", "--val-fraction", "0.25", "-o", tuned]);
            Assert.True(code == 0, output);
            Assert.Contains("re-initialised", output);
            var report = File.ReadAllText(Path.Combine(tuned, "init_report.txt"));
            Assert.Contains("head.fc.weight", report);
            Assert.Contains("re-initialised (a head of another shape, or absent from the checkpoint) (2)", report);
            Assert.Contains("--init-from", CliRunner.Run(["train", "--help"]).Output);

            // The backbone was frozen: every backbone tensor of the tuned model is the pretrained one, bit for bit;
            // the head has three outputs now.
            using var before = VisionRwkv.Checkpoints.SafeTensors.Read(Path.Combine(pretrained, "model.safetensors"));
            using var after = VisionRwkv.Checkpoints.SafeTensors.Read(Path.Combine(tuned, "model.safetensors"));
            foreach (var (key, t) in before.Tensors.Where(kv => kv.Key.StartsWith("backbone.", StringComparison.Ordinal)))
                Assert.Equal(t.data<float>().ToArray(), after.Tensors[key].data<float>().ToArray());
            Assert.Equal(new long[] { 3, 96 }, after.Tensors["head.fc.weight"].shape);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    private static void WriteGrayPng(string path) => WriteGrayPng(path, (x, _) => (byte)(x * 9));

    private static void WriteGrayPng(string path, Func<int, int, byte> value)
    {
        using var bitmap = new SkiaSharp.SKBitmap(28, 28, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                bitmap.SetPixel(x, y, new SkiaSharp.SKColor(value(x, y), value(x, y), value(x, y)));
        using var image = SkiaSharp.SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}
