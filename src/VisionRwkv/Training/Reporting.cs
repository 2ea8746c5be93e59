using System.Globalization;

namespace VisionRwkv.Training;

/// <summary>What a run is about to do.</summary>
/// <param name="RunDirectory">The run folder.</param>
/// <param name="FirstEpoch">1-based epoch the run starts (or resumes) at.</param>
/// <param name="Epochs">Total epochs of the run.</param>
/// <param name="BatchesPerEpoch">Training batches per epoch.</param>
/// <param name="UpdatesPerEpoch">Optimizer updates per epoch (batches / accumulation, rounded up).</param>
public sealed record RunStart(string RunDirectory, int FirstEpoch, int Epochs, int BatchesPerEpoch, int UpdatesPerEpoch);

/// <summary>State after one training micro-batch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Batch">1-based batch index within the epoch.</param>
/// <param name="Batches">Batches in the epoch.</param>
/// <param name="Loss">Loss of this batch.</param>
/// <param name="LearningRate">Learning rate of the latest update.</param>
/// <param name="Updates">Optimizer updates done so far in the run.</param>
public readonly record struct StepProgress(int Epoch, int Batch, int Batches, double Loss, double LearningRate, long Updates);

/// <summary>One row of summary.csv. Metrics that were not measured are null.</summary>
public sealed record EpochSummary
{
    /// <summary>1-based epoch.</summary>
    public required int Epoch { get; init; }
    /// <summary>Mean training loss per sample.</summary>
    public required double TrainLoss { get; init; }
    /// <summary>Validation loss.</summary>
    public double? ValLoss { get; init; }
    /// <summary>Validation top-1 in [0,1].</summary>
    public double? ValTop1 { get; init; }
    /// <summary>Validation top-5 in [0,1].</summary>
    public double? ValTop5 { get; init; }
    /// <summary>EMA-weights validation top-1 in [0,1].</summary>
    public double? EmaTop1 { get; init; }
    /// <summary>Validation macro AUROC (multi-label runs).</summary>
    public double? ValAuroc { get; init; }
    /// <summary>Learning rate of the last update of the epoch.</summary>
    public required double LearningRate { get; init; }
    /// <summary>Wall-clock seconds of the epoch, evaluation included.</summary>
    public required double Seconds { get; init; }
    /// <summary>Every metric measured this epoch by name (val_top1, ema_loss, ...), for best-checkpoint selection.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
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

    void Line(string text) => writer.WriteLine($"[{DateTime.Now:HH:mm:ss}] {text}");

    /// <inheritdoc />
    public void RunStarted(RunStart start)
    {
        ArgumentNullException.ThrowIfNull(start);
        _epochs = start.Epochs;
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
        var parts = new List<string> { string.Create(Inv, $"epoch {summary.Epoch} train_loss {summary.TrainLoss:F4}") };
        if (summary.ValLoss is { } vl) parts.Add(string.Create(Inv, $"val_loss {vl:F4}"));
        if (summary.ValTop1 is { } t1) parts.Add(string.Create(Inv, $"val_top1 {t1 * 100:F2}%"));
        if (summary.ValTop5 is { } t5) parts.Add(string.Create(Inv, $"val_top5 {t5 * 100:F2}%"));
        if (summary.EmaTop1 is { } e1) parts.Add(string.Create(Inv, $"ema_top1 {e1 * 100:F2}%"));
        if (summary.ValAuroc is { } au) parts.Add(string.Create(Inv, $"val_auroc {au:F4}"));
        parts.Add(string.Create(Inv, $"{summary.Seconds:F1}s"));
        if (isBest) parts.Add("(best)");
        Line(string.Join("  ", parts));
    }

    /// <inheritdoc />
    public void Message(string text) => Line(text);

    /// <inheritdoc />
    public void RunCompleted(TrainResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var test = result.Test is null ? "" : string.Create(Inv, $", test_top1 {result.Test.Top1 * 100:F2}%");
        // Without a validation split there is no best epoch to pick: the last epoch's weights are kept.
        string best = double.IsNaN(result.BestValue)
            ? string.Create(Inv, $"no {result.BestMetric} (no validation split), weights of epoch {result.BestEpoch}")
            : string.Create(Inv, $"best {result.BestMetric} {result.BestValue:F4} at epoch {result.BestEpoch}");
        Line(string.Create(Inv, $"{(result.Completed ? "finished" : "stopped")} after {result.EpochsCompleted} epochs in {result.TrainSeconds:F1}s; {best}{test}"));
    }
}
