using System.Text.Json;
using SkiaSharp;

namespace VisionRwkv.Cli.Tests.Detect;

/// <summary>rwkv detect train → eval → predict → resume on a tiny synthetic set, as a user would chain them.</summary>
public class DetectCommandTests
{
    private static bool HaveFashionMnist =>
        File.Exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
        || File.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rwkv", "fashion-mnist", "train-images-idx3-ubyte.gz"));

    private static readonly string[] CocoNames = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"];

    [Fact]
    public void Train_eval_and_predict_share_one_run_folder_and_agree_on_the_numbers()
    {
        Assert.True(HaveFashionMnist, "Fashion-MNIST is missing: ./test.sh installs it (scripts/prereqs.sh)");
        var root = Path.Combine(Path.GetTempPath(), $"rwkv-detect-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        try
        {
            var config = Path.Combine(root, "tiny.yaml");
            File.WriteAllText(config, $"""
                model: vrwkv_mini_28
                img_size: 64
                in_channels: 1
                patch_size: 8
                embed_dims: 32
                depth: 1
                pyramid_scales: [2, 1]
                pyramid_channels: 16
                head_convs: 1
                data: synthetic:{Path.Combine(root, "data")}
                synthetic:
                  train_images: 24
                  val_images: 8
                  test_images: 8
                train:
                  epochs: 2
                  batch_size: 8
                """);
            var run = Path.Combine(root, "run");
            var (code, output) = CliRunner.Run(["detect", "train", "--config", config, "--epochs", "1", "-o", run]);
            Assert.True(code == 0, output);
            foreach (var f in new[] { "detect_run.json", "categories.json", "model.safetensors", "summary.csv", "metrics.json", "coco_metrics.json", "coco_results.json" })
                Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing from the run folder:\n{output}");
            Assert.Contains("AP50", output);

            // coco_metrics.json: the 12 numbers first, in pycocotools' order, then where the results and ground truth are.
            using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "coco_metrics.json"))))
            {
                var names = doc.RootElement.EnumerateObject().Select(p => p.Name).Take(12).ToArray();
                Assert.Equal(CocoNames, names);
                Assert.True(File.Exists(doc.RootElement.GetProperty("ground_truth").GetString()));
                Assert.Equal(Path.GetFullPath(Path.Combine(run, "coco_results.json")), doc.RootElement.GetProperty("results").GetString());
            }
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
            double ap = metrics.RootElement.GetProperty("test_AP").GetDouble();

            // eval reopens the best weights and must reproduce the number the run recorded.
            (code, output) = CliRunner.Run(["detect", "eval", run, "--device", "cpu"]);
            Assert.True(code == 0, output);
            using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval-test", "coco_metrics.json"))))
                Assert.Equal(ap, doc.RootElement.GetProperty("AP").GetDouble(), 9);

            // predict: results JSON and one drawn PNG per readable image; a broken file is named and makes the exit code 2.
            var images = Path.Combine(root, "images");
            Directory.CreateDirectory(images);
            File.Copy(Directory.GetFiles(Path.Combine(root, "data", "images", "test")).Order(StringComparer.Ordinal).First(), Path.Combine(images, "a.png"));
            File.WriteAllBytes(Path.Combine(images, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
            var outDir = Path.Combine(root, "pred");
            (code, output) = CliRunner.Run(["detect", "predict", run, images, "-o", outDir, "--device", "cpu"]);
            Assert.True(code == 2, "a skipped file makes the exit code 2:\n" + output);
            Assert.Contains("broken.png", output);
            Assert.True(File.Exists(Path.Combine(outDir, "results.json")), output);
            using (var png = SKBitmap.Decode(Path.Combine(outDir, "a.detections.png")))
                Assert.True(png is not null && png.Width >= 64, "the drawn PNG is missing or unreadable");
            (code, output) = CliRunner.Run(["detect", "predict", run, images, "-o", outDir, "--device", "cpu"]);
            Assert.Equal(1, code);
            Assert.Contains("not overwriting", output);

            // resume reopens the run (spec, data, model, checkpoint); a finished run has no epoch left to add.
            (code, output) = CliRunner.Run(["detect", "train", "--resume", run]);
            Assert.True(code == 0, output);
            Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "summary.csv")).Length); // header + 1 epoch
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
