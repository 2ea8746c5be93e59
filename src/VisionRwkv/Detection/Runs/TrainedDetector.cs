using System.Text.Json;
using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets.Detection;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Detection.Models;
using VisionRwkv.Detection.Training;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Runs;

/// <summary>
/// A detector reopened from its run folder (detect_run.json, categories.json, model.safetensors or another weights
/// file) for evaluation and prediction: what <c>rwkv detect eval</c> and <c>rwkv detect predict</c> call.
/// </summary>
public sealed class TrainedDetector : IDisposable
{
    private TrainedDetector(DetectRunSpec spec, VrwkvDetector model, IReadOnlyList<CocoCategory> categories, string weights, Device device)
    {
        Spec = spec;
        Model = model;
        Categories = categories;
        Weights = weights;
        Device = device;
    }

    public DetectRunSpec Spec { get; }

    public VrwkvDetector Model { get; }

    /// <summary>COCO categories in label order.</summary>
    public IReadOnlyList<CocoCategory> Categories { get; }

    /// <summary>The weights file loaded.</summary>
    public string Weights { get; }

    public Device Device { get; }

    /// <summary>Opens <paramref name="runDirectory"/> with its best weights, or <paramref name="weights"/>.</summary>
    public static TrainedDetector Open(string runDirectory, string? weights = null, string device = "auto", bool ema = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runDirectory);
        var specPath = Path.Combine(runDirectory, DetectRun.SpecFile);
        if (!File.Exists(specPath))
            throw new FileNotFoundException($"{runDirectory}: not a run folder of 'rwkv detect train' ({DetectRun.SpecFile} missing)", specPath);
        var spec = DetectRunSpec.Load(specPath);
        var categoriesPath = Path.Combine(runDirectory, DetectRun.CategoriesFile);
        CocoCategory[] categories;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(categoriesPath));
            categories = [.. doc.RootElement.EnumerateArray().Select(e => new CocoCategory(e.GetProperty("id").GetInt64(), e.GetProperty("name").GetString() ?? ""))];
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FileNotFoundException)
        {
            throw new InvalidDataException($"{categoriesPath}: {(e is FileNotFoundException ? "missing" : "not a list of {id, name} categories")}");
        }
        var file = WeightLoader.ResolveFile(weights ?? runDirectory);
        var model = new VrwkvDetector(spec.DetectorConfig(categories.Length), spec.Model + "_fcos");
        try
        {
            WeightLoader.Load(model, file, new WeightLoadOptions { Ema = ema });
            var dev = torch.device(Devices.Resolve(device));
            model.to(dev);
            model.eval();
            return new TrainedDetector(spec, model, categories, file, dev);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// COCO evaluation of a split of the run's data (or of <paramref name="dataSpec"/>'s), letterboxed to
    /// <paramref name="imgSize"/> (null: the run's <see cref="DetectRunSpec.TestImgSize"/>, else its training size).
    /// </summary>
    public DetectionEvaluation Evaluate(string split = "test", string? dataSpec = null, int batchSize = 32, PostProcessOptions? postProcess = null, int? imgSize = null)
    {
        var spec = dataSpec is null ? Spec : Spec with { Data = dataSpec };
        var dataset = spec.OpenData().Get(split);
        if (dataset.ClassNames.Count != Categories.Count)
            throw new InvalidDataException($"data '{spec.Data}' has {dataset.ClassNames.Count} classes, the model {Categories.Count}");
        var loader = new DetectionLoader(dataset, Spec.EvalPipeline(imgSize), new LoaderOptions { BatchSize = batchSize, Threads = Math.Max(1, Environment.ProcessorCount) });
        return DetectionEvaluator.Evaluate(Model, loader, Device, postProcess ?? Spec.PostProcess, withLoss: false);
    }

    /// <summary>
    /// Detections for image files, in original pixels; unreadable files are listed in <paramref name="skipped"/>. Inputs
    /// are letterboxed to <paramref name="imgSize"/> (null: the run's test size, else its training size).
    /// </summary>
    public IReadOnlyList<CocoResult> Predict(IReadOnlyList<string> files, out IReadOnlyList<SkippedItem> skipped, int batchSize = 16, PostProcessOptions? postProcess = null, int? imgSize = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var dataset = new ImageFilesDetectionDataset(files, Categories);
        var pipeline = Spec.EvalPipeline(imgSize);
        var loader = new DetectionLoader(dataset, pipeline, new LoaderOptions { BatchSize = batchSize, Threads = Math.Max(1, Environment.ProcessorCount) });
        var results = new List<CocoResult>();
        using (no_grad())
        using (var points = Model.Points(pipeline.Height, pipeline.Width, Device))
        {
            foreach (var batch in loader.Epoch(0))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var outputs = Model.call(batch.Images.to(Device));
                    results.AddRange(DetectionEvaluator.Predict(outputs, points, batch.Targets, Categories.Count, pipeline.Height, pipeline.Width,
                        postProcess ?? Spec.PostProcess, dataset.CategoryIdOf));
                }
            }
        }
        skipped = loader.Skipped;
        return results;
    }

    public void Dispose() => Model.Dispose();
}
