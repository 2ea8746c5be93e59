using VisionRwkv.Layers;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// What a model tells the weight loader so that a checkpoint made for another task, resolution or channel count can
/// initialise it (timm's checkpoint_filter_fn, as data): which keys form the classifier head, which tensors are position
/// embeddings on a token grid, and which conv reads the input channels.
/// </summary>
public interface ICheckpointLayout
{
    /// <summary>State-dict keys of the classifier head; a head of another class count keeps its fresh initialisation.</summary>
    IReadOnlyCollection<string> HeadKeys { get; }

    /// <summary>Position embeddings [1, Prefix + H*W, C] by key, with the grid the model stores them at and the number of
    /// leading non-grid tokens (a class token).</summary>
    IReadOnlyDictionary<string, (PatchGrid Grid, int PrefixTokens)> PositionEmbeddings { get; }

    /// <summary>Key of the conv weight [C_out, C_in, kh, kw] that reads the image channels; null when there is none.</summary>
    string? InputConvKey { get; }
}
