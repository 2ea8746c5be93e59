using System.Globalization;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Imaging.Dicom;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Explain;
using VisionRwkv.Medical;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Runs;

/// <summary>Settings of <see cref="TriageEvaluation.Run"/>.</summary>
public sealed record TriageOptions
{
    /// <summary>Where predictions.csv, report.json and report.html go (default: the run folder).</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Data to evaluate (default: the run's own data spec; the same seed gives the same patient split).</summary>
    public string? Data { get; init; }
    public int BatchSize { get; init; } = 256;
    public int? Threads { get; init; }
    public MedicalEvaluationOptions Evaluation { get; init; } = new();
    /// <summary>Gallery cases per kind (true positive, false positive, false negative) and label.</summary>
    public int GalleryPerKind { get; init; } = 1;
    /// <summary>
    /// The saliency map drawn over each gallery case for its label; null shows the images alone. Grad-CAM by default:
    /// it works for every classifier, and it is what readers of the X-ray literature expect to see.
    /// </summary>
    public SaliencyMethod? GallerySaliency { get; init; } = SaliencyMethod.GradCam;
}

/// <summary>What <see cref="TriageEvaluation.Run"/> computed and wrote.</summary>
public sealed record TriageResult(MedicalEvaluationReport Report, EvaluationSet Validation, EvaluationSet Test, IReadOnlyList<GalleryCase> Cases,
    TriageReportFiles Files, IReadOnlyList<SkippedItem> Skipped);

/// <summary>
/// <c>rwkv eval</c> for multi-label runs: the model's raw logits on the validation and test splits (with image and patient
/// ids), <see cref="MedicalEvaluation.Evaluate"/> (thresholds and temperatures from validation), and the report files.
/// The gallery shows each case with the saliency map of its label (<see cref="TriageOptions.GallerySaliency"/>).
/// </summary>
public static class TriageEvaluation
{
    public static TriageResult Run(TrainedClassifier trained, string runDirectory, TriageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trained);
        options ??= new TriageOptions();
        if (!trained.MultiLabel)
            throw new InvalidOperationException($"{runDirectory}: not a multi-label run; the triage report needs per-label sigmoid outputs");
        var spec = trained.Spec;
        var splits = DataSources.Open(options.Data ?? spec.Data, spec.ValFraction, spec.Train.Seed);
        var validation = splits.Validation
            ?? throw new InvalidOperationException($"data '{options.Data ?? spec.Data}': no validation split (val_fraction 0?); thresholds and temperatures are fitted on it");
        var test = splits.Test
            ?? throw new InvalidOperationException($"data '{options.Data ?? spec.Data}': no test split; the report is about held-out patients");
        var skipped = new List<SkippedItem>();
        var valSet = Outputs(trained, validation, options.BatchSize, options.Threads, skipped);
        var testSet = Outputs(trained, test, options.BatchSize, options.Threads, skipped);
        var report = MedicalEvaluation.Evaluate(valSet, testSet, options.Evaluation);
        var cases = TriageReport.PickCases(testSet, report.Temperatures, TriageReport.YoudenThresholds(report), options.GalleryPerKind);
        var rowOf = RowsById(test);
        var gallery = cases.Select(c =>
        {
            var row = rowOf[testSet.ImageIds[c.Image]];
            var title = string.Create(CultureInfo.InvariantCulture,
                $"{testSet.Labels[c.Label]}: {c.Kind}, score {c.Score:F3} (target {(c.Target ? 1 : 0)}), {testSet.ImageIds[c.Image]}, patient {testSet.PatientIds[c.Image]}");
            if (options.GallerySaliency is { } method && trained.Model is IImageClassifier classifier)
            {
                // The map of the case's own label over the image as the model saw it (eval resize and crop).
                var prepared = PreparedImage.Load(test.NameOf(row), trained.Data);
                var input = prepared.Input;
                using var scope = NewDisposeScope();
                var map = Saliency.Map(classifier, tensor(input.Data, [input.Channels, input.Height, input.Width]), c.Label, method);
                return new GalleryItem($"{title}; {method} map", SaliencyOverlay.Png(input.Data, input.Channels, map, trained.Data));
            }
            return new GalleryItem(title, DicomPreview.Png(test.Load(row, DecodeOptions.Default)));
        }).ToList();
        var title = $"X-ray triage evaluation: {Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDirectory)))} ({trained.Weights})";
        var files = TriageReport.Write(options.OutputDirectory ?? runDirectory, title, report, testSet, gallery);
        return new TriageResult(report, valSet, testSet, cases, files, skipped);
    }

    /// <summary>An image's id: the data set's own (NIH "Image Index", CheXpert path, MIMIC dicom_id) or else its file.</summary>
    public static string ImageId(IImageDataset data, int index)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data switch
        {
            SubsetDataset s => ImageId(s.Source, s.SourceIndex(index)),
            ChestXrayDataset x => x.Items[index].ImageId,
            _ => data.NameOf(index),
        };
    }

    private static Dictionary<string, int> RowsById(IImageDataset data)
    {
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < data.Count; i++) rows.TryAdd(ImageId(data, i), i);
        return rows;
    }

    /// <summary>
    /// Raw logits of every readable image of <paramref name="data"/> in data set order, with image ids, patient ids (the
    /// group; the image id when there is none) and targets (NaN where masked). Unreadable images are added to <paramref name="skipped"/>.
    /// </summary>
    public static EvaluationSet Outputs(TrainedClassifier trained, IImageDataset data, int batchSize = 256, int? threads = null, List<SkippedItem>? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(trained);
        ArgumentNullException.ThrowIfNull(data);
        var loader = new DataLoader(data, ImagePipeline.Eval(trained.Data),
            new LoaderOptions { BatchSize = batchSize, Threads = threads ?? trained.Spec.LoaderThreads, Seed = trained.Spec.Train.Seed });
        int k = trained.Classes.Count;
        var ids = new List<string>();
        var patients = new List<string>();
        var logits = new List<float>();
        var targets = new List<float>();
        using (no_grad())
        {
            foreach (var batch in loader.GetBatches(0))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var z = trained.Model.call(batch.Inputs).to_type(ScalarType.Float32).cpu().contiguous(); // [B,K]
                    if (z.shape[1] != k) throw new InvalidOperationException($"the model returned {z.shape[1]} logits for {k} labels");
                    logits.AddRange(z.data<float>().ToArray());
                    targets.AddRange(batch.Targets.to_type(ScalarType.Float32).contiguous().data<float>().ToArray()); // [B,K]
                    foreach (var i in batch.Indices)
                    {
                        var id = ImageId(data, i);
                        ids.Add(id);
                        patients.Add(data.GroupOf(i) ?? id);
                    }
                }
            }
        }
        skipped?.AddRange(loader.Skipped);
        return new EvaluationSet(ids, patients, trained.Classes.Names, [.. logits], [.. targets]);
    }
}
