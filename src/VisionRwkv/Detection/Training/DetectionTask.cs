using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Detection;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Detection.Evaluation;
using VisionRwkv.Detection.Models;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Training;

/// <summary>
/// Detection on the training engine: the FCOS loss of a batch, and evaluation by COCO metrics as pycocotools computes
/// them (ap, ap50, ap75 and the validation loss are the reported metrics; selection defaults to val_ap). The final
/// evaluation writes <c>coco_metrics.json</c> and the <c>coco_results.json</c> it scored into the run folder.
/// </summary>
public sealed class DetectionTask : ITrainingTask, IDisposable
{
    private readonly VrwkvDetector model;
    private readonly DensePoints points;
    private readonly PostProcessOptions postProcess;
    private Device? pointsDevice;
    private DensePoints? onDevice;

    /// <param name="model">The detector being trained (for its locations and loss settings).</param>
    /// <param name="height">Training input height.</param>
    /// <param name="width">Training input width.</param>
    /// <param name="postProcess">Evaluation's post-processing.</param>
    public DetectionTask(VrwkvDetector model, int height, int width, PostProcessOptions? postProcess = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        points = model.Points(height, width);
        this.postProcess = postProcess ?? new PostProcessOptions();
    }

    public IReadOnlyList<string> ReportedMetrics => ["loss", "ap", "ap50", "ap75"];

    public Tensor Loss(Tensor outputs, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (onDevice is null || pointsDevice is null || pointsDevice.type != outputs.device.type || pointsDevice.index != outputs.device.index)
        {
            onDevice?.Dispose();
            // Made inside the trainer's per-step dispose scope, so detached from it: they live as long as the task.
            Tensor On(Tensor t) => t.to(outputs.device, copy: true).DetachFromDisposeScope();
            onDevice = new DensePoints(On(points.Points), On(points.Strides), On(points.Ranges), points.LevelSizes);
            pointsDevice = outputs.device;
        }
        var terms = FcosLoss.Compute(outputs, targets, onDevice, model.Config);
        terms.Classification.Dispose();
        terms.Box.Dispose();
        terms.Centerness.Dispose();
        return terms.Total;
    }

    public TaskEvaluation Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource source, Device device)
    {
        if (model is not VrwkvDetector detector)
            throw new ArgumentException("DetectionTask evaluates a VrwkvDetector", nameof(model));
        if (source is not DetectionBatchSource detection)
            throw new ArgumentException("DetectionTask evaluates a DetectionBatchSource (it needs each image's original size and id)", nameof(source));
        var r = DetectionEvaluator.Evaluate(detector, detection.Loader, device, postProcess);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["loss"] = r.Loss,
            ["ap"] = r.Metrics.AP,
            ["ap50"] = r.Metrics.AP50,
            ["ap75"] = r.Metrics.AP75,
        };
        return new TaskEvaluation(metrics, r.Images, r);
    }

    public IReadOnlyDictionary<string, object?> WriteFinal(RunFolder folder, TaskEvaluation? test)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var entries = new Dictionary<string, object?>();
        if (test?.Report is not DetectionEvaluation r)
            return entries;
        var resultsPath = folder.File("coco_results.json");
        CocoJson.WriteResults(resultsPath, r.Results);
        DetectionFiles.WriteMetrics(folder.File("coco_metrics.json"), r, resultsPath);
        foreach (var name in CocoMetrics.Names)
            entries["test_" + name] = r.Metrics[name];
        return entries;
    }

    public void Dispose()
    {
        points.Dispose();
        onDevice?.Dispose();
    }
}

/// <summary>coco_metrics.json, the summary a detection evaluation leaves beside its COCO results JSON.</summary>
public static class DetectionFiles
{
    /// <summary>
    /// coco_metrics.json: the 12 numbers under pycocotools' names and order, per-category AP, the image count, the input
    /// size (height, width) the images were letterboxed to, and the paths of the results and ground truth evaluated (so
    /// that anyone can re-run pycocotools on the same files).
    /// </summary>
    public static void WriteMetrics(string path, DetectionEvaluation evaluation, string resultsPath, string? groundTruthPath = null)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            // The 12 numbers first, at the top level, under pycocotools' names and in its order.
            foreach (var name in CocoMetrics.Names)
                w.WriteNumber(name, evaluation.Metrics[name]);
            w.WriteStartObject("per_category_ap");
            foreach (var (cat, ap) in evaluation.Metrics.PerCategoryAP.OrderBy(kv => kv.Key))
            {
                var name = evaluation.GroundTruth.Categories.FirstOrDefault(c => c.Id == cat)?.Name ?? cat.ToString(System.Globalization.CultureInfo.InvariantCulture);
                w.WriteNumber(name, ap);
            }
            w.WriteEndObject();
            w.WriteNumber("images", evaluation.Images);
            w.WriteStartArray("input_size");
            w.WriteNumberValue(evaluation.InputHeight);
            w.WriteNumberValue(evaluation.InputWidth);
            w.WriteEndArray();
            w.WriteNumber("detections", evaluation.Results.Count);
            w.WriteString("results", Path.GetFullPath(resultsPath));
            var gt = groundTruthPath ?? evaluation.GroundTruthPath;
            if (gt is null) w.WriteNull("ground_truth");
            else w.WriteString("ground_truth", Path.GetFullPath(gt));
            w.WriteEndObject();
        }
        var bytes = stream.ToArray();
        AtomicFile.Write(path, f => f.Write(bytes));
    }
}
