using VisionRwkv.Datasets.Transforms;
using static TorchSharp.torch;

using VisionRwkv.Datasets;

namespace VisionRwkv.Labeling;

/// <summary>
/// What the labeling job needs from a model, and nothing about how the model was opened: an id recorded on every row,
/// the label names, whether scores are independent per label (multi-label, sigmoid) or a distribution (softmax), the
/// input the model expects, and probabilities for a batch. <see cref="ClassifierLabeler"/> adapts any classifier module;
/// a run folder, a checkpoint with a class-names file or the future public run API each only build one.
/// </summary>
public interface IImageLabeler
{
    /// <summary>
    /// Identifies the model and its weights (for example <c>vrwkv_t@3f2a9c01b7de</c>): journals refuse to merge rows of
    /// different ids, and rows labeled by another id are labeled again.
    /// </summary>
    string ModelId { get; }

    /// <summary>Label names, index = output column.</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>True for multi-label models: scores are per-label sigmoids, and <see cref="Thresholds"/> apply.</summary>
    bool MultiLabel { get; }

    /// <summary>Per-label decision thresholds of a multi-label model (null: the job's score threshold for every label).</summary>
    IReadOnlyList<float>? Thresholds { get; }

    /// <summary>The input the model expects (size, channels, normalisation, eval crop): the job's eval pipeline is built from it.</summary>
    DataConfig Input { get; }

    /// <summary>
    /// Probabilities for a batch: <paramref name="images"/> is [B,C,H,W] float32, already preprocessed by the pipeline of
    /// <see cref="Input"/>; the result is B rows of <see cref="Labels"/>.Count values (softmax rows, or sigmoids when
    /// <see cref="MultiLabel"/>), row-major.
    /// </summary>
    float[] Score(Tensor images);
}
