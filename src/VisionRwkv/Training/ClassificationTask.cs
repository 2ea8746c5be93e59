using VisionRwkv.Datasets.Loading;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>
/// Image classification: single-label (cross-entropy with label smoothing; soft targets from mixup/CutMix) or
/// multi-label (BCE with per-label positive weights), evaluated by <see cref="Evaluator"/>.
/// </summary>
public sealed class ClassificationTask : ITrainingTask, IDisposable
{
    private readonly Tensor? posWeight;
    private Tensor? posWeightOnDevice;

    /// <summary>Reads the loss settings (MultiLabel, LabelSmoothing, PosWeight) from <paramref name="config"/>.</summary>
    public ClassificationTask(TrainConfig config, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        MultiLabel = config.MultiLabel;
        LabelSmoothing = config.LabelSmoothing;
        PosWeight = config.PosWeight;
        ClassNames = classNames;
        posWeight = config.PosWeight is null ? null : tensor(config.PosWeight, dtype: ScalarType.Float32).DetachFromDisposeScope();
    }

    public bool MultiLabel { get; }

    public double LabelSmoothing { get; }

    public double[]? PosWeight { get; }

    public IReadOnlyList<string>? ClassNames { get; }

    public IReadOnlyList<string> ReportedMetrics => MultiLabel ? ["loss", "auroc", "ap"] : ["loss", "top1", "top5"];

    public Tensor Loss(Tensor outputs, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (posWeight is not null && (posWeightOnDevice is null || posWeightOnDevice.device != outputs.device))
        {
            posWeightOnDevice?.Dispose();
            posWeightOnDevice = posWeight.to(outputs.device).DetachFromDisposeScope();
        }
        return Losses.Compute(outputs, targets, MultiLabel, LabelSmoothing, posWeightOnDevice);
    }

    public TaskEvaluation Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource source, Device device)
    {
        var report = Evaluator.Evaluate(model, source, new EvaluateOptions
        {
            MultiLabel = MultiLabel,
            PosWeight = PosWeight,
            ClassNames = ClassNames,
            Device = device,
        });
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var name in new[] { "top1", "top5", "loss", "f1", "auroc", "ap" })
        {
            var v = report.Metric(name);
            if (!double.IsNaN(v)) metrics[name] = v;
        }
        return new TaskEvaluation(metrics, report.Samples, report);
    }

    public IReadOnlyDictionary<string, object?> WriteFinal(RunFolder folder, TaskEvaluation? test)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var r = test?.Report as EvaluationReport;
        if (r?.ConfusionMatrix is { } cm)
        {
            var names = Enumerable.Range(0, cm.Length).Select(i => ClassificationMetrics.Name(ClassNames, i)).ToList();
            folder.WriteCsv("confusion_matrix.csv", ["true\\predicted", .. names],
                cm.Select((row, i) => (IReadOnlyList<string?>)[names[i], .. row.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))]));
            if (folder.WritePlots)
                Plots.SaveConfusionMatrix(cm, ClassNames, folder.File("confusion.png"));
        }
        return new Dictionary<string, object?>
        {
            ["test_top1"] = r?.Top1,
            ["test_top5"] = r?.Top5,
            ["test_loss"] = r?.Loss,
            ["test_macro_f1"] = r?.MacroF1,
            ["test_auroc_macro"] = r?.MultiLabelMetrics?.MacroAuroc,
            ["test_ap_macro"] = r?.MultiLabelMetrics?.MacroAveragePrecision,
            ["per_class"] = r?.PerClass,
            ["per_label_auroc"] = r?.MultiLabelMetrics?.Auroc,
            ["confusion_matrix"] = r?.ConfusionMatrix,
        };
    }

    public void Dispose()
    {
        posWeight?.Dispose();
        posWeightOnDevice?.Dispose();
    }
}
