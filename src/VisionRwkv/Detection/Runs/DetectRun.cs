using System.Text.Json;
using VisionRwkv.Checkpoints;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Detection;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Detection.Models;
using VisionRwkv.Detection.Training;
using VisionRwkv.Models;
using VisionRwkv.Runtime;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Runs;

/// <summary>What a detection run produced.</summary>
/// <param name="Result">The trainer's outcome (its Test report is a <see cref="DetectionEvaluation"/>).</param>
/// <param name="Parameters">Parameters of the detector.</param>
/// <param name="Init">How the <see cref="DetectRunSpec.InitFrom"/> weights loaded, when given.</param>
public sealed record DetectRunResult(TrainResult Result, long Parameters, LoadReport? Init)
{
    /// <summary>The final evaluation with the best weights (test split, else validation); null when stopped.</summary>
    public DetectionEvaluation? Test => Result.Test?.Report as DetectionEvaluation;
}

/// <summary>
/// Trains a Vision-RWKV detector from a <see cref="DetectRunSpec"/> on the project's <see cref="Trainer"/> (the same
/// loop, schedule, checkpoints, exact resume and run folder as classification), in one call. The run folder holds
/// detect_run.json (the spec), categories.json (COCO categories in label order), model.safetensors (best weights),
/// coco_metrics.json and coco_results.json of the final evaluation. <c>rwkv detect train</c> is this call.
/// </summary>
public static class DetectRun
{
    public const string SpecFile = "detect_run.json";

    public const string CategoriesFile = "categories.json";

    public static DetectRunResult Train(DetectRunSpec spec, string runDirectory, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrWhiteSpace(runDirectory);
        if (File.Exists(Path.Combine(runDirectory, SpecFile)) || File.Exists(Path.Combine(runDirectory, "run.json")))
            throw new IOException($"{runDirectory}: already holds a run; resume it with --resume or choose another folder");
        // A train: section in a config file starts from TrainConfig's classification defaults (val_top1).
        var t = spec.Train;
        string[] reported = ["loss", "ap", "ap50", "ap75"];
        if (!reported.Any(m => t.BestMetric == "val_" + m || t.BestMetric == "ema_" + m))
            t = t with { BestMetric = "val_ap" };
        spec = spec with { Train = t with { Device = Devices.Resolve(t.Device), LabelSmoothing = 0 } };
        return Run(spec, runDirectory, resume: false, options ?? new RunOptions(), cancellationToken);
    }

    public static DetectRunResult Resume(string runDirectory, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(runDirectory, SpecFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: not a run folder of 'rwkv detect train' ({SpecFile} missing)", path);
        return Run(DetectRunSpec.Load(path), runDirectory, resume: true, options ?? new RunOptions(), cancellationToken);
    }

    /// <summary>The training, validation and test sources of a spec's data (deterministic per epoch).</summary>
    public static TrainingData Loaders(DetectRunSpec spec, DetectionSplits splits, DetectorConfig config)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(splits);
        ArgumentNullException.ThrowIfNull(config);
        var data = config.Backbone.Data;
        int threads = spec.Threads > 0 ? spec.Threads : Math.Max(1, Environment.ProcessorCount);
        int bs = spec.Train.BatchSize;
        var train = new DetectionLoader(splits.Train, DetectionPipeline.Train(data, spec.Augment),
            new LoaderOptions { BatchSize = bs, Shuffle = true, DropLast = splits.Train.Count >= 2 * bs, Threads = threads, Seed = spec.Train.Seed });
        var eval = spec.EvalPipeline();
        DetectionBatchSource? Eval(IDetectionDataset? d) => d is null ? null
            : new DetectionBatchSource(new DetectionLoader(d, eval, new LoaderOptions { BatchSize = bs * 2, Threads = threads, Seed = spec.Train.Seed }));
        return new TrainingData(new DetectionBatchSource(train), Eval(splits.Validation), Eval(splits.Test));
    }

    private static DetectRunResult Run(DetectRunSpec spec, string runDirectory, bool resume, RunOptions options, CancellationToken cancellationToken)
    {
        var splits = spec.OpenData();
        var categories = splits.Train.ToCoco().Categories.OrderBy(c => c.Id).ToArray();
        var config = spec.DetectorConfig(categories.Length);
        var data = Loaders(spec, splits, config);
        manual_seed(spec.Train.Seed);
        using var model = new VrwkvDetector(config with { Backbone = config.Backbone with { Kernels = options.Kernels } }, spec.Model + "_fcos");
        var folder = new RunFolder(runDirectory);
        LoadReport? init = null;
        if (!resume)
        {
            if (spec.InitFrom is { } from)
            {
                init = WeightLoader.Load(model, from, WeightLoadOptions.FineTune);
                folder.WriteText("init_report.txt", init + Environment.NewLine);
                options.Log?.WriteLine($"init   {init.ToString().Replace(Environment.NewLine, Environment.NewLine + "       ", StringComparison.Ordinal)}");
            }
            AtomicFile.WriteText(folder.File(SpecFile), spec.ToJson());
            AtomicFile.WriteText(folder.File(CategoriesFile), JsonSerializer.Serialize(categories.Select(c => new { id = c.Id, name = c.Name }).ToArray()));
        }
        if (spec.Train.FreezeBackbone)
            foreach (var (name, p) in model.named_parameters())
                if (name.StartsWith("backbone.", StringComparison.Ordinal)) p.requires_grad = false;

        long parameters = model.parameters().Sum(p => p.numel());
        var b = config.Backbone;
        options.Log?.WriteLine($"model  {model.Name} ({parameters / 1e6:0.00}M params; backbone {b.Depth}x{b.EmbedDims}, patch {b.PatchSize}; pyramid strides {string.Join("/", config.Strides)}, {config.PyramidChannels} ch; {b.InChannels}x{spec.ImgSize}x{spec.ImgSize})");
        options.Log?.WriteLine($"data   {splits.Description}: train {splits.Train.Count}, val {splits.Validation?.Count ?? 0}, test {splits.Test?.Count ?? 0} images, {categories.Length} classes");
        options.Log?.WriteLine($"device {spec.Train.Device}, {get_num_threads()} torch threads");

        using var task = new DetectionTask(model, spec.ImgSize, spec.ImgSize, spec.PostProcess);
        var trainerOptions = new TrainerOptions
        {
            Task = task,
            Reporter = options.Reporter,
            ClassNames = [.. categories.Select(c => c.Name)],
            WritePlots = options.WritePlots,
            Kernels = options.Kernels,
            Layers = new ParameterLayers(b.Depth, name => VisionRwkvBackbone.LayerIdOf(name, b.Depth), name => !name.StartsWith("backbone.", StringComparison.Ordinal)),
        };
        TrainResult result;
        using (var trainer = resume ? Trainer.Resume(runDirectory, model, data, trainerOptions) : new Trainer(model, spec.Train, data, runDirectory, trainerOptions))
            result = trainer.Fit(cancellationToken);

        var skipped = new[] { data.Train, data.Validation, data.Test }.SelectMany(s => s?.Skipped ?? []).ToList();
        if (skipped.Count > 0)
        {
            CsvFiles.Write(folder.File("skipped.tsv"), ["file", "reason"], skipped.Select(s => (IReadOnlyList<string?>)[s.Name, s.Reason]), '\t');
            options.Log?.WriteLine($"skipped {skipped.Count} unreadable images (listed in {folder.File("skipped.tsv")})");
        }
        return new DetectRunResult(result, parameters, init);
    }
}
