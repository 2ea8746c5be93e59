// Notebook 2: train a classifier on a folder of your own images and predict with it, from C#.
// Run it with:  dotnet run --file notebooks/02-train-on-a-folder.cs
// Only the public library API is used: RunSpec (what to train), ClassifierRun (the whole run), TrainedClassifier (the result).
#:project ../src/VisionRwkv/VisionRwkv.csproj
#:property TreatWarningsAsErrors=false
#:property JsonSerializerIsReflectionEnabledByDefault=true
using SkiaSharp;
using VisionRwkv.Training;
using VisionRwkv.Runs;

// ## 1. A tiny image folder: one sub-folder per class (stripes, rings, checks), 24 images each.
var root = Path.Combine(Path.GetTempPath(), $"rwkv-notebook-02-{Environment.ProcessId}");
var folder = Path.Combine(root, "shapes");
var rng = new Random(7);
foreach (var (name, paint) in new (string, Func<int, int, int, bool>)[]
{
    ("stripes", (x, y, k) => (x + k) / 3 % 2 == 0),
    ("rings", (x, y, k) => (int)Math.Sqrt((x - 14) * (x - 14) + (y - 14) * (y - 14)) / (2 + k % 2) % 2 == 0),
    ("checks", (x, y, k) => ((x + k) / 4 + (y + k) / 4) % 2 == 0),
})
{
    Directory.CreateDirectory(Path.Combine(folder, name));
    for (int i = 0; i < 24; i++)
    {
        using var bitmap = new SKBitmap(28, 28);
        int shift = rng.Next(6);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
            {
                byte v = (byte)(paint(x, y, shift) ? 200 + rng.Next(50) : rng.Next(60));
                bitmap.SetPixel(x, y, new SKColor(v, v, v));
            }
        using var png = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(Path.Combine(folder, name, $"{i:D2}.png"), png.ToArray());
    }
}

// ## 2. Train: a preset model, the folder as data, a short recipe. Everything else keeps the library's defaults.
var spec = new RunSpec
{
    Model = "vrwkv_mini_28",
    Data = folder,
    ValFraction = 0.25,
    Train = RunSpec.MainJob with { Epochs = 4, BatchSize = 16, LearningRate = 3e-3, WarmupEpochs = 0 },
};
var runDir = Path.Combine(root, "run");
var run = ClassifierRun.Train(spec, runDir, new RunOptions { Log = Console.Out });
Console.WriteLine($"validation top-1 {run.Test!.Top1:P1} after {run.Result.EpochsCompleted} epochs ({run.Result.TrainSeconds:F1} s)");

// ## 3. Reopen the trained model from its run folder and predict images (files or whole folders).
using var model = TrainedClassifier.Open(runDir);
foreach (var prediction in model.Predict([Path.Combine(folder, "rings")], topK: 2).Predictions.Take(3))
    Console.WriteLine(prediction);

// ## 4. The run folder keeps the plots: loss per epoch, validation metrics, the confusion matrix.
foreach (var plot in new[] { "loss.png", "accuracy.png", "confusion.png" })
    Console.WriteLine($"{plot,-14} {new FileInfo(Path.Combine(runDir, plot)).Length,8} bytes");
Directory.Delete(root, recursive: true);
