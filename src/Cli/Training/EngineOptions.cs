using System.CommandLine;
using VisionRwkv.Training;

namespace VisionRwkv.Cli.Training;

/// <summary>
/// The options every training command shares (image classifiers and language models train on the same engine):
/// declared once, applied to a <see cref="TrainConfig"/> once.
/// </summary>
internal sealed class EngineOptions(string batchDescription, string seedDescription)
{
    public Option<int?> Epochs { get; } = new("--epochs") { Description = "Number of epochs." };
    public Option<int?> BatchSize { get; } = new("--batch-size", "-b") { Description = batchDescription };
    public Option<double?> LearningRate { get; } = new("--lr") { Description = "Peak learning rate (AdamW, cosine with linear warm-up)." };
    public Option<long?> Seed { get; } = new("--seed") { Description = seedDescription };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda, or auto (cuda when available).", DefaultValueFactory = _ => "auto" };
    public Option<DirectoryInfo?> Output { get; } = new("--output", "-o") { Description = "Run folder (default: runs/<model>-<timestamp>)." };
    public Option<DirectoryInfo?> Resume { get; } = new("--resume") { Description = "Continue an interrupted run from its folder exactly where it stopped." };

    public IEnumerable<Option> All => [Epochs, BatchSize, LearningRate, Seed, Device, Output, Resume];

    /// <summary><paramref name="t"/> with every option the user gave.</summary>
    public TrainConfig Apply(ParseResult parse, TrainConfig t) => t with
    {
        Epochs = parse.GetValue(Epochs) ?? t.Epochs,
        BatchSize = parse.GetValue(BatchSize) ?? t.BatchSize,
        LearningRate = parse.GetValue(LearningRate) ?? t.LearningRate,
        Seed = parse.GetValue(Seed) ?? t.Seed,
        Device = parse.GetValue(Device)!,
    };

    /// <summary>--output, or runs/&lt;model&gt;-&lt;timestamp&gt;.</summary>
    public string RunDirectory(ParseResult parse, string model) =>
        parse.GetValue(Output)?.FullName ?? Path.Combine("runs", $"{model}-{DateTime.Now:yyyyMMdd-HHmmss}");
}
