using System.Globalization;

namespace VisionRwkv.Training;

/// <summary>What a run is about to do.</summary>
/// <param name="RunDirectory">The run folder.</param>
/// <param name="FirstEpoch">1-based epoch the run starts (or resumes) at.</param>
/// <param name="Epochs">Total epochs of the run.</param>
/// <param name="BatchesPerEpoch">Training batches per epoch.</param>
/// <param name="UpdatesPerEpoch">Optimizer updates per epoch (batches / accumulation, rounded up).</param>
/// <param name="Columns">The metric columns of summary.csv, in the order progress lines show them.</param>
public sealed record RunStart(string RunDirectory, int FirstEpoch, int Epochs, int BatchesPerEpoch, int UpdatesPerEpoch, IReadOnlyList<string> Columns);

/// <summary>State after one training micro-batch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Batch">1-based batch index within the epoch.</param>
/// <param name="Batches">Batches in the epoch.</param>
/// <param name="Loss">Loss of this batch.</param>
/// <param name="LearningRate">Learning rate of the latest update.</param>
/// <param name="Updates">Optimizer updates done so far in the run.</param>
public readonly record struct StepProgress(int Epoch, int Batch, int Batches, double Loss, double LearningRate, long Updates);

/// <summary>One row of summary.csv: the training loss and every metric measured after an epoch.</summary>
public sealed record EpochSummary
{
    /// <summary>1-based epoch.</summary>
    public required int Epoch { get; init; }
    /// <summary>Mean training loss per sample.</summary>
    public required double TrainLoss { get; init; }
    /// <summary>Learning rate of the last update of the epoch.</summary>
    public required double LearningRate { get; init; }
    /// <summary>Wall-clock seconds of the epoch, evaluation included.</summary>
    public required double Seconds { get; init; }
    /// <summary>Every metric measured this epoch by name (val_top1, ema_loss, ...), for best-checkpoint selection.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    /// <summary>A metric by full name, or null when it was not measured.</summary>
    public double? this[string name] => Metrics.TryGetValue(name, out var v) ? v : null;

    /// <summary>
    /// "epoch 3 train_loss 0.2884  val_loss 0.3027  val_top1 88.54%" for the given columns (accuracies in percent),
    /// the line both reporters print.
    /// </summary>
    public string Describe(IReadOnlyList<string> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var parts = new List<string> { string.Create(CultureInfo.InvariantCulture, $"epoch {Epoch} train_loss {TrainLoss:F4}") };
        foreach (var c in columns)
        {
            if (this[c] is not { } v) continue;
            bool percent = c.EndsWith("top1", StringComparison.Ordinal) || c.EndsWith("top5", StringComparison.Ordinal);
            parts.Add(percent ? string.Create(CultureInfo.InvariantCulture, $"{c} {v * 100:F2}%") : string.Create(CultureInfo.InvariantCulture, $"{c} {v:F4}"));
        }
        return string.Join("  ", parts);
    }
}

/// <summary>Receives progress of a training run. The CLI draws progress bars; <see cref="LineReporter"/> logs lines.</summary>
public interface ITrainingReporter
{
    /// <summary>Before the first epoch (also after a resume).</summary>
    void RunStarted(RunStart start);
    /// <summary>At the start of each epoch.</summary>
    void EpochStarted(int epoch, int batches);
    /// <summary>After every training micro-batch.</summary>
    void StepCompleted(StepProgress progress);
    /// <summary>After evaluation and checkpointing of an epoch.</summary>
    void EpochCompleted(EpochSummary summary, bool isBest);
    /// <summary>Free-form notes (resume, final evaluation).</summary>
    void Message(string text);
    /// <summary>After the run (also when stopped early).</summary>
    void RunCompleted(TrainResult result);
}

/// <summary>Reports nothing.</summary>
public sealed class NullReporter : ITrainingReporter
{
    /// <summary>The shared instance.</summary>
    public static NullReporter Instance { get; } = new();
    /// <inheritdoc />
    public void RunStarted(RunStart start) { }
    /// <inheritdoc />
    public void EpochStarted(int epoch, int batches) { }
    /// <inheritdoc />
    public void StepCompleted(StepProgress progress) { }
    /// <inheritdoc />
    public void EpochCompleted(EpochSummary summary, bool isBest) { }
    /// <inheritdoc />
    public void Message(string text) { }
    /// <inheritdoc />
    public void RunCompleted(TrainResult result) { }
}

/// <summary>Plain timestamped lines for logs, CI and redirected output.</summary>
public sealed class LineReporter(TextWriter writer, int logEverySteps = 50) : ITrainingReporter
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    int _epochs;
    IReadOnlyList<string> _columns = [];

    void Line(string text) => writer.WriteLine($"[{DateTime.Now:HH:mm:ss}] {text}");

    /// <inheritdoc />
    public void RunStarted(RunStart start)
    {
        ArgumentNullException.ThrowIfNull(start);
        _epochs = start.Epochs;
        _columns = start.Columns;
        Line($"run {start.RunDirectory}: epochs {start.FirstEpoch}..{start.Epochs}, {start.BatchesPerEpoch} batches/epoch, {start.UpdatesPerEpoch} updates/epoch");
    }

    /// <inheritdoc />
    public void EpochStarted(int epoch, int batches) => Line($"epoch {epoch}/{_epochs} ({batches} batches)");

    /// <inheritdoc />
    public void StepCompleted(StepProgress progress)
    {
        if (logEverySteps > 0 && (progress.Batch % logEverySteps == 0 || progress.Batch == progress.Batches))
            Line(string.Create(Inv, $"  epoch {progress.Epoch} batch {progress.Batch}/{progress.Batches} loss {progress.Loss:F4} lr {progress.LearningRate:E3}"));
    }

    /// <inheritdoc />
    public void EpochCompleted(EpochSummary summary, bool isBest)
    {
        ArgumentNullException.ThrowIfNull(summary);
        Line(summary.Describe(_columns) + string.Create(Inv, $"  {summary.Seconds:F1}s") + (isBest ? "  (best)" : ""));
    }

    /// <inheritdoc />
    public void Message(string text) => Line(text);

    /// <inheritdoc />
    public void RunCompleted(TrainResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        // Multi-label runs report their mean AUROC: top-1 of multi-hot targets means little.
        var test = result.Test?.Metrics.TryGetValue("auroc", out var auroc) == true ? string.Create(Inv, $", test_auroc {auroc:F4}")
            : result.Test?.Metrics.TryGetValue("top1", out var top1) == true ? string.Create(Inv, $", test_top1 {top1 * 100:F2}%") : "";
        // Without a validation split there is no best epoch to pick: the last epoch's weights are kept.
        string best = double.IsNaN(result.BestValue)
            ? string.Create(Inv, $"no {result.BestMetric} (no validation split), weights of epoch {result.BestEpoch}")
            : string.Create(Inv, $"best {result.BestMetric} {result.BestValue:F4} at epoch {result.BestEpoch}");
        Line(string.Create(Inv, $"{(result.Completed ? "finished" : "stopped")} after {result.EpochsCompleted} epochs in {result.TrainSeconds:F1}s; {best}{test}"));
    }
}
