using VisionRwkv.Common;
using System.CommandLine;
using System.Globalization;
using System.Diagnostics;
using VisionRwkv.Checkpoints;
using VisionRwkv.Cli.Training;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Models;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv train</c>: train a classifier; with no arguments, the main job (vrwkv_mini_28 on Fashion-MNIST).</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "YAML or JSON run config (model, data, augment, train: {...}); options below override it." };
        var model = new Option<string?>("--model", "-m") { Description = "Model preset (see 'rwkv models'). Default: vrwkv_mini_28." };
        var data = new Option<string?>("--data", "-d") { Description = "fashion-mnist (default), idx:IMAGES,LABELS[,TEST_IMAGES,TEST_LABELS], an image folder, or a .csv/.jsonl manifest." };
        var epochs = new Option<int?>("--epochs") { Description = "Number of epochs." };
        var batch = new Option<int?>("--batch-size", "-b") { Description = "Batch size." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (AdamW, cosine with linear warm-up)." };
        var wd = new Option<double?>("--weight-decay") { Description = "AdamW weight decay (not applied to norms, biases and 1-D parameters)." };
        var warmup = new Option<double?>("--warmup-epochs") { Description = "Linear warm-up length in epochs." };
        var smoothing = new Option<double?>("--label-smoothing") { Description = "Label smoothing for cross-entropy." };
        var clip = new Option<double?>("--clip-grad") { Description = "Clip the gradient norm to this value (0 = off)." };
        var accum = new Option<int?>("--grad-accum") { Description = "Accumulate gradients over this many batches per update." };
        var ema = new Option<bool?>("--ema") { Description = "Keep an EMA of the weights and evaluate it separately." };
        var mixup = new Option<double?>("--mixup") { Description = "Mixup alpha (0 = off)." };
        var cutmix = new Option<double?>("--cutmix") { Description = "CutMix alpha (0 = off)." };
        var aa = new Option<string?>("--aa") { Description = "RandAugment policy, e.g. rand-m9-mstd0.5." };
        var multiLabel = new Option<bool?>("--multi-label") { Description = "Multi-label training (BCE with per-label positive weights) for manifest data." };
        var seed = new Option<long?>("--seed") { Description = "Seed for initialisation, data order and augmentation." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, or auto (cuda when available).", DefaultValueFactory = _ => "auto" };
        var valFraction = new Option<double?>("--val-fraction") { Description = "Fraction of the training data held out for validation." };
        var limit = new Option<int?>("--limit-train") { Description = "Train on a stratified subset of this many images (quick runs)." };
        var threads = new Option<int?>("--threads") { Description = "Data-loading threads." };
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Run folder (default: runs/<model>-<timestamp>)." };
        var resume = new Option<DirectoryInfo?>("--resume") { Description = "Continue an interrupted run from its folder exactly where it stopped." };

        var command = new Command("train", "Train an image classifier. With no options: vrwkv_mini_28 on Fashion-MNIST (the main job).")
        {
            config, model, data, epochs, batch, lr, wd, warmup, smoothing, clip, accum, ema, mixup, cutmix, aa, multiLabel, seed,
            device, valFraction, limit, threads, output, resume,
        };
        command.SetAction((parse, ct) =>
        {
            var resumeDir = parse.GetValue(resume);
            RunSpec spec;
            if (resumeDir is not null)
            {
                var runJson = Path.Combine(resumeDir.FullName, "run.json");
                if (!File.Exists(runJson)) throw new FileNotFoundException($"{runJson}: not a run folder of 'rwkv train' (run.json missing)");
                spec = RunSpec.Load(runJson);
            }
            else
            {
                spec = parse.GetValue(config) is { } file ? RunSpec.Load(file.FullName) : new RunSpec();
                var t = spec.Train;
                t = t with
                {
                    Epochs = parse.GetValue(epochs) ?? t.Epochs,
                    BatchSize = parse.GetValue(batch) ?? t.BatchSize,
                    LearningRate = parse.GetValue(lr) ?? t.LearningRate,
                    WeightDecay = parse.GetValue(wd) ?? t.WeightDecay,
                    WarmupEpochs = parse.GetValue(warmup) ?? t.WarmupEpochs,
                    LabelSmoothing = parse.GetValue(smoothing) ?? t.LabelSmoothing,
                    ClipGradNorm = parse.GetValue(clip) ?? t.ClipGradNorm,
                    GradAccumSteps = parse.GetValue(accum) ?? t.GradAccumSteps,
                    Ema = parse.GetValue(ema) ?? t.Ema,
                    MixupAlpha = parse.GetValue(mixup) ?? t.MixupAlpha,
                    CutmixAlpha = parse.GetValue(cutmix) ?? t.CutmixAlpha,
                    MultiLabel = parse.GetValue(multiLabel) ?? t.MultiLabel,
                    Seed = parse.GetValue(seed) ?? t.Seed,
                };
                if (t.MultiLabel && t.BestMetric == "val_top1") t = t with { BestMetric = "val_auroc" };
                spec = spec with
                {
                    Model = parse.GetValue(model) ?? spec.Model,
                    Data = parse.GetValue(data) ?? spec.Data,
                    ValFraction = parse.GetValue(valFraction) ?? spec.ValFraction,
                    LimitTrain = parse.GetValue(limit) ?? spec.LimitTrain,
                    Threads = parse.GetValue(threads) ?? spec.Threads,
                    Augment = parse.GetValue(aa) is { } policy ? spec.Augment with { AutoAugment = policy } : spec.Augment,
                    Train = t with { Device = ResolveDevice(parse.GetValue(device)!) },
                };
            }
            return Task.FromResult(Run(spec, resumeDir?.FullName, parse.GetValue(output)?.FullName, ct));
        });
        return command;
    }

    internal static string ResolveDevice(string requested) => requested switch
    {
        "auto" => cuda.is_available() ? "cuda" : "cpu",
        "cuda" when !cuda.is_available() => throw new InvalidOperationException("--device cuda: TorchSharp found no CUDA LibTorch on this machine"),
        _ => requested,
    };

    private static int Run(RunSpec spec, string? resumeDir, string? outputDir, CancellationToken ct)
    {
        var entry = ModelRegistry.Get(spec.Model);
        var splits = DataSetup.Open(spec.Data, spec.ValFraction, spec.Train.Seed, spec.LimitTrain);
        var classes = splits.Classes;
        var dataConfig = DataSetup.ToImageDataConfig(entry.Data);
        var trainPipeline = ImagePipeline.Train(dataConfig, spec.Augment);
        var evalPipeline = ImagePipeline.Eval(dataConfig);
        int bs = spec.Train.BatchSize;
        var trainSource = new LoaderBatchSource(splits.Train, trainPipeline, bs, shuffle: true, spec.LoaderThreads, spec.Train.Seed);
        var valSource = splits.Validation is null ? null : new LoaderBatchSource(splits.Validation, evalPipeline, bs * 2, false, spec.LoaderThreads, spec.Train.Seed);
        var testSource = splits.Test is null ? null : new LoaderBatchSource(splits.Test, evalPipeline, bs * 2, false, spec.LoaderThreads, spec.Train.Seed);
        var trainingData = new TrainingData(trainSource, valSource, testSource);

        manual_seed(spec.Train.Seed);
        using var net = ModelRegistry.Create(spec.Model, classes.Count);
        string runDir = resumeDir ?? outputDir ?? Path.Combine("runs", $"{spec.Model}-{DateTime.Now:yyyyMMdd-HHmmss}");
        Directory.CreateDirectory(runDir);
        if (resumeDir is null)
        {
            AtomicFile.WriteText(Path.Combine(runDir, "run.json"), spec.ToJson());
            classes.Save(Path.Combine(runDir, "class_map.json"));
        }

        long parameters = net.parameters().Sum(p => p.numel());
        Console.WriteLine($"model  {spec.Model} ({parameters / 1e6:0.00}M params, {entry.Data.InChannels}x{entry.Data.Height}x{entry.Data.Width})");
        Console.WriteLine($"data   {splits.Description}: train {splits.Train.Count}, val {splits.Validation?.Count ?? 0}, test {splits.Test?.Count ?? 0}, {classes.Count} classes");
        Console.WriteLine($"device {spec.Train.Device}, {get_num_threads()} torch threads, {spec.LoaderThreads} loader threads");

        var sw = Stopwatch.StartNew();
        var result = ConsoleReporting.Run(reporter =>
        {
            var options = new TrainerOptions { Reporter = reporter, ClassNames = classes.Names, NumClasses = classes.Count };
            using var trainer = resumeDir is null
                ? new Trainer(net, spec.Train, trainingData, runDir, options)
                : Trainer.Resume(runDir, net, trainingData, options);
            return trainer.Fit(ct);
        });

        var skipped = trainSource.Skipped.Concat(valSource?.Skipped ?? []).Concat(testSource?.Skipped ?? []).ToList();
        if (skipped.Count > 0)
        {
            var log = Path.Combine(runDir, "skipped.tsv");
            AtomicFile.WriteText(log, string.Join('\n', skipped.Select(s => $"{s.Name}\t{s.Reason}")) + "\n");
            Console.WriteLine($"skipped {skipped.Count} unreadable images (listed in {log})");
        }
        var inv = CultureInfo.InvariantCulture;
        if (result.Test is { } test)
        {
            string split = splits.Test is null ? "validation" : "test";
            Console.WriteLine(string.Create(inv, $"{split} top-1 {test.Top1 * 100:F2}%  top-5 {test.Top5 * 100:F2}%  ({test.Samples} images, best epoch {result.BestEpoch})"));
        }
        Console.WriteLine(string.Create(inv, $"trained {result.EpochsCompleted} epochs in {result.TrainSeconds:F0}s (wall {sw.Elapsed.TotalSeconds:F0}s)"));
        Console.WriteLine($"run folder: {Path.GetFullPath(runDir)}");
        return result.Completed ? 0 : 130;
    }
}
