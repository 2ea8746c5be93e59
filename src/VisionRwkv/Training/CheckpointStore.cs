using VisionRwkv.Checkpoints;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>Training checkpoints are safetensors files: tensors plus string metadata (epoch, step, RNG, config).</summary>
internal static class CheckpointStore
{
    /// <summary>Writes tensors (any device; copied to CPU) and metadata atomically.</summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var map = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in tensors)
            if (!map.TryAdd(name, t)) throw new ArgumentException($"{path}: duplicate tensor name '{name}'");
        SafeTensors.Write(path, map, metadata);
    }

    /// <summary>Reads a checkpoint; the caller owns the returned tensors.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        using var file = SafeTensors.Read(path);
        var metadata = new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal);
        return (file.TakeTensors(), metadata);
    }
}
