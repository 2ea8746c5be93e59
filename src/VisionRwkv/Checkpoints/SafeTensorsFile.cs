using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// The contents of a safetensors file: every tensor (CPU, contiguous, in file header order) and the optional
/// <c>__metadata__</c> string map. Owns the tensors: disposing the file disposes them, so copy or
/// <see cref="TakeTensors"/> what must outlive it.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private Dictionary<string, torch.Tensor> tensors;

    internal SafeTensorsFile(string path, Dictionary<string, torch.Tensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file this was read from.</summary>
    public string Path { get; }

    /// <summary>Tensors by name, in the order the header lists them.</summary>
    public IReadOnlyDictionary<string, torch.Tensor> Tensors => tensors;

    /// <summary>The header's <c>__metadata__</c> map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Hands the tensors to the caller, who then disposes them; the file is left empty.</summary>
    public Dictionary<string, torch.Tensor> TakeTensors()
    {
        var taken = tensors;
        tensors = [];
        return taken;
    }

    public void Dispose()
    {
        foreach (var t in tensors.Values)
            t.Dispose();
        tensors.Clear();
    }
}
