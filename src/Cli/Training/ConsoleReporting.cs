using System.Globalization;
using Spectre.Console;
using VisionRwkv.Training;

namespace VisionRwkv.Cli.Training;

/// <summary>Progress bars with rate and ETA on a terminal; plain log lines when output is redirected (CI, files).</summary>
internal static class ConsoleReporting
{
    public static bool Interactive =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="body"/> with a reporter suited to the console.</summary>
    public static T Run<T>(Func<ITrainingReporter, T> body)
    {
        if (!Interactive)
            return body(new LineReporter(Console.Out));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => result = body(new SpectreReporter(ctx)));
        return result;
    }
}

internal sealed class SpectreReporter(ProgressContext ctx) : ITrainingReporter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private ProgressTask? _epoch;
    private int _epochs;
    private IReadOnlyList<string> _columns = [];

    public void RunStarted(RunStart start)
    {
        _epochs = start.Epochs;
        _columns = start.Columns;
        AnsiConsole.MarkupLine($"[grey]run[/] {Markup.Escape(start.RunDirectory)}: epochs {start.FirstEpoch}..{start.Epochs}, {start.BatchesPerEpoch} batches/epoch");
    }

    public void EpochStarted(int epoch, int batches)
    {
        _epoch = ctx.AddTask($"epoch {epoch}/{_epochs}", maxValue: batches);
    }

    public void StepCompleted(StepProgress p)
    {
        if (_epoch is null) return;
        _epoch.Value = p.Batch;
        _epoch.Description = string.Create(Inv, $"epoch {p.Epoch}/{_epochs} loss {p.Loss:F3} lr {p.LearningRate:E1}");
    }

    public void EpochCompleted(EpochSummary s, bool isBest)
    {
        if (_epoch is not null) { _epoch.Value = _epoch.MaxValue; _epoch.StopTask(); }
        AnsiConsole.MarkupLine(Markup.Escape(s.Describe(_columns) + string.Create(Inv, $"  {s.Seconds:F0}s")) + (isBest ? " [green](best)[/]" : ""));
    }

    public void Message(string text) => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");

    public void RunCompleted(TrainResult result) { }
}
