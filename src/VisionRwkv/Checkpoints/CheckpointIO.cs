using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>Loads and saves state dicts by file extension: <c>.safetensors</c>, or PyTorch <c>.pth</c>/<c>.pt</c>/<c>.bin</c>/<c>.ckpt</c>.</summary>
public static class CheckpointIO
{
    public enum Format
    {
        SafeTensors,
        Pth,
    }

    /// <summary>The format a path's extension names; throws for an unknown extension.</summary>
    public static Format FormatOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".safetensors" => Format.SafeTensors,
            ".pth" or ".pt" or ".bin" or ".ckpt" or ".tar" => Format.Pth,
            var ext => throw new ArgumentException($"{path}: unknown checkpoint extension '{ext}' (use .safetensors, .pth, .pt, .bin or .ckpt)", nameof(path)),
        };
    }

    /// <summary>Reads a state dict (CPU tensors) and its metadata; the caller disposes the result.</summary>
    public static Checkpoint Load(string path)
    {
        if (FormatOf(path) == Format.SafeTensors)
            return SafeTensors.Read(path);
        return Pth.Read(path);
    }

    /// <summary>Writes a state dict atomically in the format the extension names.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (FormatOf(path) == Format.SafeTensors)
            SafeTensors.Write(path, tensors, metadata);
        else
            Pth.Write(path, tensors, metadata);
    }
}
