using System.Security.Cryptography;
using System.Text.Json;
using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Models;
using static TorchSharp.torch;

using VisionRwkv.Datasets;
using VisionRwkv.Runs;

namespace VisionRwkv.Labeling;

/// <summary>
/// An <see cref="IImageLabeler"/> over a classifier module mapping [B,C,H,W] images to [B,K] logits. It owns the module
/// (disposes it) and runs it in eval mode without autograd, one dispose scope per batch.
/// </summary>
public sealed class ClassifierLabeler : IImageLabeler, IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;

    public ClassifierLabeler(nn.Module<Tensor, Tensor> model, string modelId, IReadOnlyList<string> labels, DataConfig input,
        bool multiLabel = false, IReadOnlyList<float>? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(input);
        if (thresholds is not null && thresholds.Count != labels.Count)
            throw new ArgumentException($"{thresholds.Count} thresholds for {labels.Count} labels", nameof(thresholds));
        this.model = model;
        ModelId = modelId;
        Labels = labels;
        Input = input;
        MultiLabel = multiLabel;
        Thresholds = thresholds;
        model.eval();
    }

    public string ModelId { get; }

    public IReadOnlyList<string> Labels { get; }

    public bool MultiLabel { get; }

    public IReadOnlyList<float>? Thresholds { get; }

    public DataConfig Input { get; }

    public float[] Score(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.call(images); // [B,K]
        if (logits.shape[1] != Labels.Count)
            throw new InvalidOperationException($"the model gives {logits.shape[1]} scores per image but has {Labels.Count} label names");
        var probs = MultiLabel ? logits.sigmoid() : logits.softmax(1); // [B,K]
        return probs.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }

    public void Dispose() => model.Dispose();

    /// <summary>
    /// The MODEL of a labeling job: a run folder of a training run (<see cref="TrainedClassifier"/>); a checkpoint
    /// (.safetensors/.pth) with <paramref name="classNames"/> for the registry model <paramref name="arch"/>; or, for
    /// benchmarks only (<paramref name="allowRandom"/>), a bare registry name with random weights.
    /// </summary>
    public static ClassifierLabeler Open(string model, string? classNames, string arch, string? checkpoint = null, bool ema = false,
        int? inputSize = null, bool allowRandom = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Directory.Exists(model))
        {
            var trained = TrainedClassifier.Open(model, checkpoint, ema);
            var id = $"{trained.Spec.Model}@{FileDigest(trained.Weights)}";
            // The labeler owns (and disposes) the module from here on.
            return new ClassifierLabeler(trained.Model, id, trained.Classes.Names, trained.Data, trained.MultiLabel);
        }
        if (File.Exists(model))
        {
            if (classNames is null)
                throw new ArgumentException($"{model}: a checkpoint needs --classes FILE (the label names, one per line or a JSON list)");
            return FromCheckpoint(model, arch, classNames, inputSize);
        }
        if (allowRandom && ModelRegistry.All.Any(e => e.Name == model))
        {
            // Benchmarks only: the registry model with random weights and numbered labels (speed does not depend on weights).
            var entry = ModelRegistry.Get(model);
            var net = entry.Create(null);
            var k = ((IImageClassifier)net).NumClasses;
            var data = inputSize is int s ? entry.Data with { Height = s, Width = s } : entry.Data;
            return new ClassifierLabeler(net, $"{model}@random", [.. Enumerable.Range(0, k).Select(i => $"class_{i}")], data);
        }
        throw new FileNotFoundException($"{model}: not a run folder, a checkpoint file{(allowRandom ? " or a registry model name" : "")}");
    }

    /// <summary>
    /// A registry model (<paramref name="modelName"/>, e.g. vrwkv_t) with weights from a checkpoint (.pth in mmcls or timm
    /// layout, or .safetensors; loaded exactly by <see cref="WeightLoader"/>) and
    /// label names from <paramref name="classNamesFile"/> (<see cref="ReadClassNames"/>). The id is the model name and
    /// the first 12 hex digits of the checkpoint's SHA-256.
    /// </summary>
    public static ClassifierLabeler FromCheckpoint(string checkpoint, string modelName, string classNamesFile, int? inputSize = null)
    {
        var names = ReadClassNames(classNamesFile);
        var entry = ModelRegistry.Get(modelName);
        var model = entry.Create(names.Count);
        try
        {
            WeightLoader.Load(model, checkpoint);   // exactly: any missing, extra or differently shaped tensor is an error
            var data = inputSize is int s ? entry.Data with { Height = s, Width = s } : entry.Data;
            return new ClassifierLabeler(model, $"{modelName}@{FileDigest(checkpoint)}", names, data);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Label names from a file: a JSON array, a JSON <c>{"classes": [...]}</c> (our class_map.json), or text with one
    /// name per line. A leading WordNet id (<c>n01440764 tench, Tinca tinca</c>, the usual ImageNet list) is dropped.
    /// </summary>
    public static IReadOnlyList<string> ReadClassNames(string path)
    {
        var text = File.ReadAllText(path).Trim();
        List<string> names;
        if (text.StartsWith('[') || text.StartsWith('{'))
        {
            using var doc = JsonDocument.Parse(text);
            var array = doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement
                : doc.RootElement.TryGetProperty("classes", out var c) ? c
                : throw new InvalidDataException($"{path}: a JSON class-names file is an array or has a \"classes\" array");
            names = [.. array.EnumerateArray().Select(e => e.GetString() ?? throw new InvalidDataException($"{path}: a class name is not a string"))];
        }
        else
        {
            names = [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)
                .Select(l => l.Length > 10 && l[0] == 'n' && l[1..9].All(char.IsAsciiDigit) && l[9] == ' ' ? l[10..].Trim() : l)];
        }
        if (names.Count == 0)
            throw new InvalidDataException($"{path}: no class names");
        var dup = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new InvalidDataException($"{path}: class name '{dup.Key}' appears twice");
        return names;
    }

    /// <summary>First 12 hex digits of a file's SHA-256: short enough to read, long enough to tell weights apart.</summary>
    public static string FileDigest(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..12];
    }
}
