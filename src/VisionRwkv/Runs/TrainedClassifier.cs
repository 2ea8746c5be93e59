using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Models;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Runs;

/// <summary>The top-k labels of one image, best first, with softmax (or per-label sigmoid) probabilities.</summary>
/// <param name="File">The image.</param>
/// <param name="Labels">Class names, best first.</param>
/// <param name="Probabilities">Their probabilities.</param>
public sealed record Prediction(string File, IReadOnlyList<string> Labels, IReadOnlyList<float> Probabilities)
{
    public override string ToString() =>
        File + ": " + string.Join(", ", Labels.Select((l, i) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{l} {Probabilities[i]:F3}")));
}

/// <summary>Predictions for a set of files, and the files that could not be read.</summary>
public sealed record PredictionResult(IReadOnlyList<Prediction> Predictions, IReadOnlyList<SkippedItem> Skipped);

/// <summary>
/// A trained classifier reopened from its run folder: the spec it was trained with, its class map and its best (or EMA,
/// or any other) weights, loaded exactly through <see cref="WeightLoader"/>; ready to predict files or evaluate a split.
/// </summary>
public sealed class TrainedClassifier : IDisposable
{
    private TrainedClassifier(RunSpec spec, ClassMap classes, nn.Module<Tensor, Tensor> model, LoadReport report)
    {
        Spec = spec;
        Classes = classes;
        Model = model;
        Report = report;
    }

    /// <summary>The spec of the run (run.json).</summary>
    public RunSpec Spec { get; }

    /// <summary>Class names in the order of the model's outputs.</summary>
    public ClassMap Classes { get; }

    /// <summary>The model, in eval mode.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>How the weights loaded (the file they came from is its <see cref="LoadReport.Source"/>).</summary>
    public LoadReport Report { get; }

    /// <summary>The weights file.</summary>
    public string Weights => Report.Source;

    /// <summary>The preprocessing the model expects.</summary>
    public DataConfig Data => ((IImageClassifier)Model).Data;

    /// <summary>True when the model scores labels independently (sigmoid) rather than as one softmax.</summary>
    public bool MultiLabel => Spec.Train.MultiLabel;

    /// <param name="runDirectory">A folder written by a training run (run.json, class_map.json, model.safetensors).</param>
    /// <param name="checkpoint">Weights inside or outside the run (default: the run's model.safetensors, the best epoch).</param>
    /// <param name="ema">Use the EMA weights of a training checkpoint (default file: best.safetensors).</param>
    public static TrainedClassifier Open(string runDirectory, string? checkpoint = null, bool ema = false)
    {
        ArgumentNullException.ThrowIfNull(runDirectory);
        var runJson = Path.Combine(runDirectory, "run.json");
        if (!File.Exists(runJson)) throw new FileNotFoundException($"{runJson}: not a run folder of 'rwkv train' (run.json missing)");
        var spec = RunSpec.Load(runJson);
        var classMapPath = Path.Combine(runDirectory, "class_map.json");
        if (!File.Exists(classMapPath)) throw new FileNotFoundException($"{classMapPath}: the run's class map is missing");
        var classes = ClassMap.Load(classMapPath);
        string weights = checkpoint ?? Path.Combine(runDirectory, ema ? "best.safetensors" : "model.safetensors");
        if (!File.Exists(weights)) throw new FileNotFoundException($"{weights}: no weights (has the run finished an epoch?)");
        var model = ModelRegistry.Create(spec.Model, classes.Count);
        try
        {
            var report = WeightLoader.Load(model, weights, new WeightLoadOptions { Ema = ema });
            model.eval();
            return new TrainedClassifier(spec, classes, model, report);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The top-<paramref name="topK"/> labels of every image in <paramref name="files"/> (folders are searched
    /// recursively); unreadable files are reported in the result, never fatal.</summary>
    public PredictionResult Predict(IEnumerable<string> files, int topK = 5, int batchSize = 64, int? threads = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var paths = new List<string>();
        foreach (var input in files)
        {
            if (Directory.Exists(input))
            {
                var found = ImageFilesDataset.Scan(input);
                paths.AddRange(Enumerable.Range(0, found.Count).Select(found.NameOf));
            }
            else if (File.Exists(input)) paths.Add(Path.GetFullPath(input));
            else throw new FileNotFoundException($"{input}: no such file or folder");
        }
        var dataset = new ImageFilesDataset(paths);
        var loader = new DataLoader(dataset, ImagePipeline.Eval(Data), new LoaderOptions
        {
            BatchSize = batchSize,
            Threads = threads ?? Spec.LoaderThreads,
        });
        int k = Math.Min(topK, Classes.Count);
        var rows = new List<Prediction>();
        foreach (var b in loader.Epoch(0))
        {
            using (b)
            {
                var preds = Evaluator.PredictTopK(Model, b.Inputs, k, MultiLabel);
                for (int i = 0; i < preds.Length; i++)
                    rows.Add(new Prediction(dataset.NameOf(b.Indices[i]), [.. preds[i].Select(p => Classes[p.ClassIndex])], [.. preds[i].Select(p => p.Probability)]));
            }
        }
        return new PredictionResult(rows, loader.Skipped);
    }

    /// <summary>Evaluates split <paramref name="split"/> (test, val or train) of <paramref name="data"/> (default: the run's own data).</summary>
    public EvaluationReport Evaluate(string split = "test", string? data = null, int batchSize = 256)
    {
        var splits = DataSources.Open(data ?? Spec.Data, Spec.ValFraction, Spec.Train.Seed);
        var source = new DataLoader(splits.Get(split), ImagePipeline.Eval(Data),
            new LoaderOptions { BatchSize = batchSize, Threads = Spec.LoaderThreads, Seed = Spec.Train.Seed });
        return Evaluator.Evaluate(Model, source, new EvaluateOptions { MultiLabel = MultiLabel, ClassNames = Classes.Names });
    }

    public void Dispose() => Model.Dispose();
}
