using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// A loaded state dict, from a safetensors or a .pth file: CPU tensors by key (in file order) and string metadata
/// (safetensors <c>__metadata__</c>, or a .pth's <c>meta</c>). Owns the tensors: disposing the checkpoint disposes
/// them, so keep it alive while they are used or <see cref="TakeTensors"/>.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private Dictionary<string, torch.Tensor> tensors;

    public Checkpoint(string path, Dictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        this.tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file this was read from.</summary>
    public string Path { get; }

    /// <summary>Tensors by state_dict key.</summary>
    public IReadOnlyDictionary<string, torch.Tensor> Tensors => tensors;

    /// <summary>
    /// String metadata: a safetensors <c>__metadata__</c> map, or for a .pth the top-level <c>meta</c> dict (string
    /// values as they are, anything else as JSON) plus <c>pth.wrapper</c>, the key the state dict was found under.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Hands the tensors to the caller, who then disposes them; the checkpoint is left empty.</summary>
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
