using System.Globalization;
using static TorchSharp.torch;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// The training checkpoint format (last/best/epoch-NNNN.safetensors in a run folder): one safetensors file with the
/// model weights under <c>model.</c>, the EMA weights under <c>ema.</c>, AdamW's moments under
/// <c>optimizer.{i}.exp_avg</c> / <c>exp_avg_sq</c> (i = parameter index in optimizer order), torch's generator state as
/// <c>rng.torch</c>, and string metadata: <c>format</c> = <see cref="Format"/>, <c>optimizer_steps</c> (comma-separated),
/// plus whatever the trainer records (epoch, updates, best value, history, config).
/// </summary>
public sealed class TrainingCheckpoint : IDisposable
{
    /// <summary>The value of the <c>format</c> metadata entry.</summary>
    public const string Format = "vision-rwkv-train/1";

    private readonly Dictionary<string, Tensor> tensors;

    private TrainingCheckpoint(string path, Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Every metadata entry.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The model's state dict (keys without the <c>model.</c> prefix).</summary>
    public IReadOnlyDictionary<string, Tensor> Model => Prefixed("model.");

    /// <summary>The EMA weights (empty when the run kept none).</summary>
    public IReadOnlyDictionary<string, Tensor> Ema => Prefixed("ema.");

    /// <summary>AdamW's step count per parameter, in optimizer order.</summary>
    public long[] OptimizerSteps => Required("optimizer_steps").Split(',', StringSplitOptions.RemoveEmptyEntries)
        .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>AdamW's first and second moments of parameter <paramref name="i"/>.</summary>
    public (Tensor ExpAvg, Tensor ExpAvgSq) OptimizerMoments(int i) =>
        (Tensor($"optimizer.{i}.exp_avg"), Tensor($"optimizer.{i}.exp_avg_sq"));

    /// <summary>torch's generator state at the time of the checkpoint.</summary>
    public Tensor TorchRng => Tensor("rng.torch");

    /// <summary>A metadata entry, or an error naming the file and the entry.</summary>
    public string Required(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{Path}: training checkpoint lacks metadata '{key}'");

    /// <summary>True when <paramref name="metadata"/> says a file is a training checkpoint of this toolkit.</summary>
    public static bool Is(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue("format", out var f) && f == Format;

    /// <summary>Writes a training checkpoint atomically; tensors may live on any device (they are copied to CPU).</summary>
    public static void Save(string path, IEnumerable<(string Key, Tensor Value)> model, IEnumerable<(string Key, Tensor Value)>? ema,
        IReadOnlyList<(Tensor ExpAvg, Tensor ExpAvgSq)> moments, IReadOnlyList<long> steps, Tensor torchRng,
        IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(moments);
        ArgumentNullException.ThrowIfNull(metadata);
        var map = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        void Add(string key, Tensor t)
        {
            if (!map.TryAdd(key, t)) throw new ArgumentException($"{path}: duplicate tensor name '{key}'");
        }
        foreach (var (k, t) in model) Add("model." + k, t);
        foreach (var (k, t) in ema ?? []) Add("ema." + k, t);
        for (int i = 0; i < moments.Count; i++)
        {
            Add($"optimizer.{i}.exp_avg", moments[i].ExpAvg);
            Add($"optimizer.{i}.exp_avg_sq", moments[i].ExpAvgSq);
        }
        Add("rng.torch", torchRng);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = Format, ["optimizer_steps"] = string.Join(",", steps) };
        foreach (var (k, v) in metadata) meta[k] = v;
        SafeTensors.Write(path, map, meta);
    }

    /// <summary>Reads a training checkpoint; throws naming the file when it is another kind of file.</summary>
    public static TrainingCheckpoint Load(string path)
    {
        using var file = SafeTensors.Read(path);
        if (!Is(file.Metadata))
            throw new InvalidDataException($"{path}: not a training checkpoint of this toolkit (format '{(file.Metadata.TryGetValue("format", out var f) ? f : "none")}')");
        return new TrainingCheckpoint(path, file.TakeTensors(), new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal));
    }

    private Tensor Tensor(string key) =>
        tensors.TryGetValue(key, out var t) ? t : throw new InvalidDataException($"{Path}: training checkpoint lacks tensor '{key}'");

    private Dictionary<string, Tensor> Prefixed(string prefix) =>
        tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);

    public void Dispose()
    {
        foreach (var t in tensors.Values) t.Dispose();
        tensors.Clear();
    }
}
