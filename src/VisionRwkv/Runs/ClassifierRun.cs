using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Models;
using VisionRwkv.Runtime;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Runs;

/// <summary>What a finished (or stopped) classifier run produced, with what the data layer skipped.</summary>
/// <param name="Result">The trainer's outcome.</param>
/// <param name="Splits">The data it trained and was tested on.</param>
/// <param name="Skipped">Images that could not be read (recorded in skipped.tsv in the run folder).</param>
/// <param name="Init">How the <see cref="RunSpec.InitFrom"/> weights loaded, when given.</param>
public sealed record ClassifierRunResult(TrainResult Result, DataSplits Splits, IReadOnlyList<SkippedItem> Skipped, LoadReport? Init)
{
    /// <summary>The final evaluation report (test split, or validation when there is none).</summary>
    public EvaluationReport? Test => Result.Test?.Report as EvaluationReport;
}

/// <summary>
/// Trains an image classifier from a <see cref="RunSpec"/>, the whole run in one call: opens the data, builds the
/// loaders from the model's <see cref="Datasets.DataConfig"/>, creates the model (optionally from existing weights),
/// trains with <see cref="Trainer"/> and leaves a run folder that <see cref="TrainedClassifier.Open"/> reads back.
/// <c>rwkv train</c> is this call with a console reporter.
/// </summary>
public static class ClassifierRun
{
    /// <summary>Trains <paramref name="spec"/> into <paramref name="runDirectory"/> (created; must not hold another run).</summary>
    public static ClassifierRunResult Train(RunSpec spec, string runDirectory, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrWhiteSpace(runDirectory);
        options ??= new RunOptions();
        if (File.Exists(Path.Combine(runDirectory, "run.json")))
            throw new IOException($"{runDirectory}: already holds a run (run.json); resume it with --resume or choose another folder");
        spec = spec with { Train = spec.Train with { Device = Devices.Resolve(spec.Train.Device) } };
        return Run(spec, runDirectory, resume: false, options, cancellationToken);
    }

    /// <summary>Continues the run in <paramref name="runDirectory"/> exactly where its last checkpoint left it.</summary>
    public static ClassifierRunResult Resume(string runDirectory, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        var runJson = Path.Combine(runDirectory, "run.json");
        if (!File.Exists(runJson))
            throw new FileNotFoundException($"{runJson}: not a run folder of 'rwkv train' (run.json missing)");
        return Run(RunSpec.Load(runJson), runDirectory, resume: true, options ?? new RunOptions(), cancellationToken);
    }

    /// <summary>
    /// The spec a run of multi-label data trains with: BCE (multi_label), no label smoothing, and the best checkpoint by
    /// mean validation AUROC when the spec still names the single-label default (top-1 means nothing for multi-hot targets).
    /// Single-label data, or a spec that already says multi_label, is returned unchanged.
    /// </summary>
    public static RunSpec ForData(RunSpec spec, bool multiLabelData)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!multiLabelData || spec.Train.MultiLabel) return spec;
        var best = spec.Train.BestMetric switch
        {
            "val_top1" or "val_top5" => "val_auroc",
            "ema_top1" or "ema_top5" => "ema_auroc",
            var other => other,
        };
        return spec with { Train = spec.Train with { MultiLabel = true, LabelSmoothing = 0, BestMetric = best } };
    }

    /// <summary>The train and eval loaders of a spec over its splits, in the model's preprocessing.</summary>
    public static TrainingData Loaders(RunSpec spec, DataSplits splits, Datasets.DataConfig data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(splits);
        int bs = spec.Train.BatchSize;
        var mixup = spec.Augment.MixesBatches ? new MixupCutmix(spec.Augment, splits.Classes.Count) : null;
        var train = new DataLoader(splits.Train, ImagePipeline.Train(data, spec.Augment),
            new LoaderOptions { BatchSize = bs, Shuffle = true, Threads = spec.LoaderThreads, Seed = spec.Train.Seed }, mixup);
        var eval = ImagePipeline.Eval(data);
        DataLoader? Eval(IImageDataset? d) => d is null ? null
            : new DataLoader(d, eval, new LoaderOptions { BatchSize = bs * 2, Threads = spec.LoaderThreads, Seed = spec.Train.Seed });
        return new TrainingData(train, Eval(splits.Validation), Eval(splits.Test));
    }

    private static ClassifierRunResult Run(RunSpec spec, string runDirectory, bool resume, RunOptions options, CancellationToken cancellationToken)
    {
        var entry = ModelRegistry.Get(spec.Model);
        var splits = DataSources.Open(spec.Data, spec.ValFraction, spec.Train.Seed, spec.LimitTrain);
        if (!resume) spec = ForData(spec, splits.Train.IsMultiLabel);
        var classes = splits.Classes;
        var data = Loaders(spec, splits, entry.Data);

        manual_seed(spec.Train.Seed);
        using var net = ModelRegistry.Create(spec.Model, classes.Count, options.Kernels);
        var folder = new RunFolder(runDirectory);
        LoadReport? init = null;
        if (!resume)
        {
            if (spec.InitFrom is { } from)
            {
                init = WeightLoader.Load(net, from, WeightLoadOptions.FineTune);
                folder.WriteText("init_report.txt", init + Environment.NewLine);
                options.Log?.WriteLine($"init   {init.ToString().Replace(Environment.NewLine, Environment.NewLine + "       ", StringComparison.Ordinal)}");
            }
            AtomicFile.WriteText(folder.File("run.json"), spec.ToJson());
            classes.Save(folder.File("class_map.json"));
        }
        if (spec.Train.FreezeBackbone)
        {
            if (net is not IImageClassifier probe)
                throw new InvalidOperationException($"{spec.Model}: freezing the backbone needs a model that names its head");
            foreach (var (name, p) in net.named_parameters())
                if (!probe.IsHead(name)) p.requires_grad = false;
        }

        long parameters = net.parameters().Sum(p => p.numel());
        long trainable = net.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        options.Log?.WriteLine($"model  {spec.Model} ({parameters / 1e6:0.00}M params{(trainable < parameters ? $", {trainable / 1e6:0.00}M trainable" : "")}, {entry.Data.Channels}x{entry.Data.Height}x{entry.Data.Width})");
        options.Log?.WriteLine($"data   {splits.Description}: train {splits.Train.Count}, val {splits.Validation?.Count ?? 0}, test {splits.Test?.Count ?? 0}, {classes.Count} classes");
        options.Log?.WriteLine($"device {spec.Train.Device}, {get_num_threads()} torch threads, {spec.LoaderThreads} loader threads");

        var trainerOptions = new TrainerOptions
        {
            Reporter = options.Reporter,
            ClassNames = classes.Names,
            WritePlots = options.WritePlots,
            Kernels = options.Kernels,
            Layers = net is IImageClassifier c ? new ParameterLayers(c.LayerCount, c.LayerIdOf, c.IsHead) : null,
        };
        TrainResult result;
        using (var trainer = resume ? Trainer.Resume(runDirectory, net, data, trainerOptions) : new Trainer(net, spec.Train, data, runDirectory, trainerOptions))
            result = trainer.Fit(cancellationToken);

        var skipped = new[] { data.Train, data.Validation, data.Test }.SelectMany(s => s?.Skipped ?? []).ToList();
        if (skipped.Count > 0)
        {
            CsvFiles.Write(folder.File("skipped.tsv"), ["file", "reason"], skipped.Select(s => (IReadOnlyList<string?>)[s.Name, s.Reason]), '\t');
            options.Log?.WriteLine($"skipped {skipped.Count} unreadable images (listed in {folder.File("skipped.tsv")})");
        }
        return new ClassifierRunResult(result, splits, skipped, init);
    }
}
