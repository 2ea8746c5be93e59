// Notebook 5: train an object detector (Vision-RWKV backbone + simple feature pyramid + FCOS head), read its COCO
// metrics, and detect objects in new images, from C#.
// Run it with:  dotnet run --file notebooks/05-detection.cs
// Only the public library API is used: DetectRunSpec (what to train), DetectRun (the whole run), TrainedDetector (the result).
// The data is a small synthetic set (Fashion-MNIST items pasted onto cluttered canvases, COCO JSON written by us);
// `data: coco:DIR` or `yolo:DIR` trains on your own annotations the same way.
#:project ../src/VisionRwkv/VisionRwkv.csproj
#:property TreatWarningsAsErrors=false
#:property JsonSerializerIsReflectionEnabledByDefault=true
using VisionRwkv.Detection;
using VisionRwkv.Detection.Runs;
using VisionRwkv.Training;

var root = Path.Combine(Path.GetTempPath(), $"rwkv-notebook-05-{Environment.ProcessId}");

// ## 1. What to train: a small backbone on 64x64 grey canvases, a two-level pyramid (strides 4 and 8), a light head.
var spec = new DetectRunSpec
{
    Model = "vrwkv_mini_28",
    ImgSize = 64,
    InChannels = 1,
    PatchSize = 8,
    EmbedDims = 48,
    Depth = 2,
    PyramidScales = [2, 1],
    PyramidChannels = 32,
    HeadConvs = 1,
    Data = $"synthetic:{Path.Combine(root, "data")}",
    Synthetic = new SyntheticSpec { TrainImages = 160, ValImages = 16, TestImages = 32 },
    // Precision "bfloat16" multiplies in bfloat16 with float32 weights (torch.autocast's rule): faster on CPUs with
    // AVX512-BF16 or AMX and on GPUs; leave it out (float32) elsewhere.
    Train = DetectRunSpec.Defaults with { Epochs = 2, BatchSize = 16, LearningRate = 2e-3, WarmupEpochs = 0.2, Precision = "bfloat16" },
};

// ## 2. Train on the engine every task shares: run folder, checkpoints, resume, COCO metrics on the test split.
var runDir = Path.Combine(root, "run");
var run = DetectRun.Train(spec, runDir, new RunOptions { Log = Console.Out });
var test = run.Test!;
Console.Write(test.Metrics.Summary());
Console.WriteLine($"AP {test.Metrics.AP:F3}, AP50 {test.Metrics.AP50:F3} on {test.Images} test images after {run.Result.TrainSeconds:F0} s");
Console.WriteLine($"coco_metrics.json: {File.ReadAllText(Path.Combine(runDir, "coco_metrics.json")).Length} characters; results: {test.Results.Count} detections");

// ## 3. Reopen the detector and find objects in image files; draw the confident ones.
using var detector = TrainedDetector.Open(runDir, device: "cpu");
// The same weights evaluated on larger inputs (more tokens per object; `test_img_size` in a spec, `--img-size` in the CLI).
var larger = detector.Evaluate("test", imgSize: 80);
Console.WriteLine($"at {larger.InputWidth}x{larger.InputHeight}: AP {larger.Metrics.AP:F3}, AP50 {larger.Metrics.AP50:F3}");
var images = Directory.GetFiles(Path.Combine(root, "data", "images", "test")).Order(StringComparer.Ordinal).Take(2).ToList();
var found = detector.Predict(images, out var skipped);
foreach (var group in found.GroupBy(r => r.ImageId))
{
    var best = group.OrderByDescending(r => r.Score).First();
    var name = detector.Categories.First(c => c.Id == best.CategoryId).Name;
    Console.WriteLine($"{Path.GetFileName(images[(int)group.Key - 1])}: {group.Count()} detections, best {name} {best.Score:F2} at {best.Bbox}");
    DetectionDrawing.Draw(images[(int)group.Key - 1], group, detector.Categories, Path.Combine(root, $"{group.Key}.png"));
}
Console.WriteLine($"skipped {skipped.Count} files");
Directory.Delete(root, recursive: true);
