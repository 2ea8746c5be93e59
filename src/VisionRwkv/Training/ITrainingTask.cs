using VisionRwkv.Datasets.Loading;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>What one evaluation pass measured: metrics by short name (loss, top1, auroc, ...) and the task's full report.</summary>
/// <param name="Metrics">Short metric names to values; names ending in "loss" are minimised, the others maximised.</param>
/// <param name="Samples">Items evaluated.</param>
/// <param name="Report">The task's own report (e.g. an <see cref="EvaluationReport"/>), for final artifacts.</param>
public sealed record TaskEvaluation(IReadOnlyDictionary<string, double> Metrics, long Samples, object? Report = null);

/// <summary>
/// What the training engine needs to know about a task (classification, language modelling, detection): the loss of a
/// batch, how to evaluate, which metrics to show, and what to write at the end. The loop, schedule, optimizer,
/// checkpoints and run folder are the same for every task.
/// </summary>
public interface ITrainingTask
{
    /// <summary>Short names of the metrics worth a column in summary.csv and a place in progress lines, headline first
    /// after the loss (e.g. loss, top1, top5).</summary>
    IReadOnlyList<string> ReportedMetrics { get; }

    /// <summary>Mean loss of one batch: <paramref name="outputs"/> = model(inputs), targets already on the device.</summary>
    Tensor Loss(Tensor outputs, Tensor targets);

    /// <summary>One pass over <paramref name="source"/> in eval mode under no_grad (restoring the model's mode).</summary>
    TaskEvaluation Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource source, Device device);

    /// <summary>Entries for metrics.json from the final evaluation, and any files (confusion matrix, ...) in the run folder.</summary>
    IReadOnlyDictionary<string, object?> WriteFinal(RunFolder folder, TaskEvaluation? test);
}
