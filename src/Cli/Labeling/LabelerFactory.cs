using VisionRwkv.Cli.Training;
using VisionRwkv.Labeling;
using VisionRwkv.Models;

namespace VisionRwkv.Cli.Labeling;

/// <summary>
/// Opens the MODEL argument of <c>rwkv label</c> as an <see cref="IImageLabeler"/>. Today's way to open a run folder is
/// the CLI's internal <see cref="TrainedModel"/>; when the library's public run API lands, only
/// <see cref="FromRunFolder"/> changes.
/// </summary>
internal static class LabelerFactory
{
    /// <summary>
    /// A run folder of <c>rwkv train</c>; a checkpoint (.safetensors/.pth) with <paramref name="classNames"/> for the
    /// registry model <paramref name="arch"/>; or, for benchmarks only, a bare registry name (random weights).
    /// </summary>
    public static ClassifierLabeler Open(string model, string? classNames, string arch, string? checkpoint = null, bool ema = false,
        int? inputSize = null, bool allowRandom = false)
    {
        if (Directory.Exists(model))
            return FromRunFolder(model, checkpoint, ema);
        if (File.Exists(model))
        {
            if (classNames is null)
                throw new ArgumentException($"{model}: a checkpoint needs --classes FILE (the label names, one per line or a JSON list)");
            return ClassifierLabeler.FromCheckpoint(model, arch, classNames, inputSize);
        }
        if (allowRandom && ModelRegistry.All.Any(e => e.Name == model))
        {
            // Benchmarks only: the registry model with random weights and numbered labels (speed does not depend on weights).
            var entry = ModelRegistry.Get(model);
            var net = entry.Create(null);
            var k = ((IImageClassifier)net).NumClasses;
            var data = inputSize is int s ? entry.Data with { Height = s, Width = s } : entry.Data;
            return new ClassifierLabeler(net, $"{model}@random", [.. Enumerable.Range(0, k).Select(i => $"class_{i}")], ClassifierLabeler.ToImageDataConfig(data));
        }
        throw new FileNotFoundException($"{model}: not a run folder, a checkpoint file{(allowRandom ? " or a registry model name" : "")}");
    }

    /// <summary>The adapter from a run folder: <c>TrainedModel</c> gives the module, class map and preprocessing.</summary>
    public static ClassifierLabeler FromRunFolder(string runDir, string? checkpoint, bool ema)
    {
        var trained = TrainedModel.Open(runDir, checkpoint, ema);
        var id = $"{trained.Spec.Model}@{ClassifierLabeler.FileDigest(trained.Weights)}";
        // The labeler owns (and disposes) the module from here on.
        return new ClassifierLabeler(trained.Model, id, trained.Classes.Names, DataSetup.ToImageDataConfig(trained.Data), trained.Spec.Train.MultiLabel);
    }
}
