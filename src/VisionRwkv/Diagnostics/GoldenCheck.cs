using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Models;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Diagnostics;

/// <summary>One compared quantity of a golden file: features, logits, loss or a grad.*.</summary>
public sealed record GoldenComparison(string Name, double MaxRelativeError, double Tolerance)
{
    public bool Passed => MaxRelativeError <= Tolerance && !double.IsNaN(MaxRelativeError);
}

/// <summary>The outcome of one golden file.</summary>
public sealed record GoldenResult(string File, string Description, IReadOnlyList<GoldenComparison> Comparisons)
{
    public bool Passed => Comparisons.Count > 0 && Comparisons.All(c => c.Passed);

    public GoldenComparison Worst => Comparisons.MaxBy(c => double.IsNaN(c.MaxRelativeError) ? double.MaxValue : c.MaxRelativeError)!;
}

/// <summary>
/// Parity against the official implementation (../shared/goldens/README.md): builds the classifier from a golden file's
/// metadata, loads its weights, runs forward and backward on its input, and compares features, logits, loss and every
/// stored gradient by max|a-b| / max|b|.
/// </summary>
public static class GoldenCheck
{
    public const double DefaultTolerance = 1e-4;

    public static GoldenResult Run(string path, double tolerance = DefaultTolerance, WkvImplementation wkv = WkvImplementation.Auto)
    {
        using var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue("meta", out var metaJson))
            throw new InvalidDataException($"{path}: no __metadata__.meta entry; not a Vision-RWKV golden file");
        using var meta = JsonDocument.Parse(metaJson);
        var cfg = ConfigFromMeta(meta.RootElement, path) with { WkvImplementation = wkv };

        using var scope = NewDisposeScope();
        using var model = new VrwkvClassifier(cfg, "golden");
        var weights = file.Tensors.Where(kv => kv.Key.StartsWith("backbone.", StringComparison.Ordinal) || kv.Key.StartsWith("head.", StringComparison.Ordinal))
                                  .ToDictionary(kv => kv.Key, kv => kv.Value);
        WeightLoader.Apply(model, weights, WeightLoadOptions.Exact, path);
        model.eval();   // dropout and drop path are 0 in goldens, so train and eval agree

        var input = Need(file, "input", path);
        var labels = Need(file, "labels", path);
        var features = model.ForwardFeatures(input);                       // [B,N,C]
        var logits = model.ForwardHead(features);                          // [B,K]
        var loss = nn.functional.cross_entropy(logits, labels);
        loss.backward();

        var results = new List<GoldenComparison>
        {
            Compare("features", features, Need(file, "features", path), tolerance),
            Compare("logits", logits, Need(file, "logits", path), tolerance),
            Compare("loss", loss.reshape(1), Need(file, "loss", path), tolerance),
        };
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, expected) in file.Tensors.Where(kv => kv.Key.StartsWith("grad.", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string param = name["grad.".Length..];
            if (!parameters.TryGetValue(param, out var p))
                throw new InvalidDataException($"{path}: {name} names no parameter of the model");
            var grad = p.grad ?? throw new InvalidOperationException($"{path}: {param} received no gradient");
            results.Add(Compare(name, grad, expected, tolerance));
        }
        string description = meta.RootElement.TryGetProperty("tag", out var tag) ? tag.GetString() ?? "" : "";
        return new GoldenResult(path, description, results);
    }

    /// <summary>The official constructor arguments (img_size, patch_size, embed_dims, depth, post_norm, init_values, key_norm, in_channels).</summary>
    public static VrwkvConfig ConfigFromMeta(JsonElement meta, string path)
    {
        if (!meta.TryGetProperty("backbone", out var b))
            throw new InvalidDataException($"{path}: metadata has no 'backbone' arguments");
        int Int(string name, int fallback) => b.TryGetProperty(name, out var v) ? v.GetInt32() : fallback;
        bool Bool(string name) => b.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        int img = Int("img_size", 224);
        float? initValues = b.TryGetProperty("init_values", out var iv) && iv.ValueKind == JsonValueKind.Number ? iv.GetSingle() : null;
        string wkv = meta.TryGetProperty("wkv", out var w) ? w.GetString() ?? "exact" : "exact";
        return new VrwkvConfig
        {
            ImgHeight = img,
            ImgWidth = img,
            PatchSize = Int("patch_size", 16),
            InChannels = Int("in_channels", 3),
            EmbedDims = Int("embed_dims", 192),
            Depth = Int("depth", 12),
            PostNorm = Bool("post_norm"),
            KeyNorm = Bool("key_norm"),
            InitValues = initValues,
            NumClasses = meta.GetProperty("num_classes").GetInt32(),
            Wkv = wkv == "exact" ? WkvCompat.Exact : WkvCompat.OfficialOldKernel,
        };
    }

    /// <summary>max|a-b| / max|b|, in float64.</summary>
    public static GoldenComparison Compare(string name, Tensor actual, Tensor expected, double tolerance)
    {
        using var scope = NewDisposeScope();
        if (!actual.shape.SequenceEqual(expected.shape))
            throw new InvalidDataException($"{name}: shape [{string.Join(",", actual.shape)}] differs from the golden's [{string.Join(",", expected.shape)}]");
        var a = actual.detach().to(ScalarType.Float64);
        var b = expected.to(ScalarType.Float64);
        double scale = b.abs().max().item<double>();
        double diff = (a - b).abs().max().item<double>();
        double rel = scale > 0 ? diff / scale : diff;
        return new GoldenComparison(name, rel, tolerance);
    }

    private static Tensor Need(Checkpoint file, string name, string path) =>
        file.Tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"{path}: golden has no '{name}' tensor");

    internal static string Format(double value) => value.ToString("0.00e+00", CultureInfo.InvariantCulture);
}
