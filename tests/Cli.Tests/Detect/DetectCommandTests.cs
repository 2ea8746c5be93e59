using System.Diagnostics;
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
            var config = TinyConfig(root);
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

            // --img-size evaluates at another input size (coco_metrics.json records the one used); a size the patches do
            // not divide is refused in one line.
            using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval-test", "coco_metrics.json"))))
                Assert.Equal([64, 64], doc.RootElement.GetProperty("input_size").EnumerateArray().Select(v => v.GetInt32()));
            var eval96 = Path.Combine(root, "eval-96");
            (code, output) = CliRunner.Run(["detect", "eval", run, "--img-size", "96", "-o", eval96, "--device", "cpu"]);
            Assert.True(code == 0, output);
            using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(eval96, "coco_metrics.json"))))
                Assert.Equal([96, 96], doc.RootElement.GetProperty("input_size").EnumerateArray().Select(v => v.GetInt32()));
            (code, output) = CliRunner.Run(["detect", "eval", run, "--img-size", "60", "-o", eval96, "--device", "cpu"]);
            Assert.Equal(1, code);
            Assert.Contains("test image size 60", output);

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

    [SkippableFact]
    public void Detect_eval_matches_pycocotools_on_the_files_it_wrote()
    {
        Assert.True(HaveFashionMnist, "Fashion-MNIST is missing: ./test.sh installs it (scripts/prereqs.sh)");
        var (python, lib) = Pycocotools();
        Skip.If(python is null, lib);
        var root = Path.Combine(Path.GetTempPath(), $"rwkv-detect-coco-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        try
        {
            var run = Path.Combine(root, "run");
            var (code, output) = CliRunner.Run(["detect", "train", "--config", TinyConfig(root), "--epochs", "3", "-o", run]);
            Assert.True(code == 0, output);
            (code, output) = CliRunner.Run(["detect", "eval", run, "--split", "val", "--device", "cpu"]);
            Assert.True(code == 0, output);
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval-val", "coco_metrics.json")));
            var gt = doc.RootElement.GetProperty("ground_truth").GetString()!;
            var results = doc.RootElement.GetProperty("results").GetString()!;
            Assert.True(doc.RootElement.GetProperty("detections").GetInt32() > 0, "nothing to compare: no detections");
            var psi = new ProcessStartInfo(python!) { RedirectStandardOutput = true, RedirectStandardError = true };
            var outPath = Path.Combine(root, "pycocotools.json");
            foreach (var a in new[] { Path.Combine(GoldenCommandTests.RepoRoot(), "scripts", "pycocotools-eval.py"), gt, results, outPath })
                psi.ArgumentList.Add(a);
            psi.Environment["PYTHONPATH"] = lib;
            using (var p = Process.Start(psi)!)
            {
                var err = p.StandardError.ReadToEndAsync();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, err.Result);
            }
            using var reference = JsonDocument.Parse(File.ReadAllText(outPath));
            var stats = reference.RootElement.GetProperty("stats").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (var i = 0; i < 12; i++)
                Assert.True(Math.Abs(stats[i] - doc.RootElement.GetProperty(CocoNames[i]).GetDouble()) <= 1e-4,
                    $"{CocoNames[i]}: ours {doc.RootElement.GetProperty(CocoNames[i]).GetDouble()}, pycocotools {stats[i]}");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The interpreter and library folder scripts/build-pycocotools.sh leaves, or null and why not.</summary>
    private static (string? Python, string Lib) Pycocotools()
    {
        var dir = Environment.GetEnvironmentVariable("PYCOCOTOOLS_DIR") ?? Path.Combine(
            Environment.GetEnvironmentVariable("RWKV_CACHE") ?? Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "rwkv"), "pycocotools");
        var marker = Path.Combine(dir, "python");
        return File.Exists(marker) ? (File.ReadAllText(marker).Trim(), Path.Combine(dir, "lib"))
            : (null, $"pycocotools is not built in {dir} (scripts/build-pycocotools.sh)");
    }

    private static string TinyConfig(string root)
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
        return config;
    }
}
