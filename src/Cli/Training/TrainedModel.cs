using VisionRwkv.Datasets.Sources;
using VisionRwkv.Models;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Training;

/// <summary>A trained classifier reopened from a run folder: its spec, class map and best (or EMA) weights.</summary>
internal sealed class TrainedModel : IDisposable
{
    private TrainedModel(RunSpec spec, ClassMap classes, nn.Module<Tensor, Tensor> model, string weights)
    {
        Spec = spec;
        Classes = classes;
        Model = model;
        Weights = weights;
    }

    public RunSpec Spec { get; }

    public ClassMap Classes { get; }

    public nn.Module<Tensor, Tensor> Model { get; }

    public string Weights { get; }

    public DataConfig Data => ((IImageClassifier)Model).Data;

    /// <param name="runDir">A folder written by <c>rwkv train</c>.</param>
    /// <param name="checkpoint">A weights file inside or outside the run (default: the run's model.safetensors, the best epoch).</param>
    /// <param name="ema">Use the EMA weights of a training checkpoint.</param>
    public static TrainedModel Open(string runDir, string? checkpoint = null, bool ema = false)
    {
        var runJson = Path.Combine(runDir, "run.json");
        if (!File.Exists(runJson)) throw new FileNotFoundException($"{runJson}: not a run folder of 'rwkv train' (run.json missing)");
        var spec = RunSpec.Load(runJson);
        var classMapPath = Path.Combine(runDir, "class_map.json");
        if (!File.Exists(classMapPath)) throw new FileNotFoundException($"{classMapPath}: the run's class map is missing");
        var classes = ClassMap.Load(classMapPath);
        string weights = checkpoint ?? (ema ? Path.Combine(runDir, "best.safetensors") : Path.Combine(runDir, "model.safetensors"));
        if (!File.Exists(weights)) throw new FileNotFoundException($"{weights}: no weights (has the run finished an epoch?)");
        var model = ModelRegistry.Create(spec.Model, classes.Count);
        Trainer.LoadWeights(model, weights, ema);
        model.eval();
        return new TrainedModel(spec, classes, model, weights);
    }

    public void Dispose() => Model.Dispose();
}
