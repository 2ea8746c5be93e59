using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Sources;

/// <summary>
/// An indexed collection of labelled images. Implementations are safe to call from several threads at once
/// (the loader's workers call <see cref="Load"/> concurrently).
/// </summary>
public interface IImageDataset
{
    int Count { get; }

    ClassMap Classes { get; }

    /// <summary>True when an item may carry several labels (targets become [B,K] multi-hot rows).</summary>
    bool IsMultiLabel { get; }

    /// <summary>What errors and skip records call the item: its file path, or <c>file#index</c> for IDX records.</summary>
    string NameOf(int index);

    /// <summary>Group id (for example a patient id) used by group splits; null when the source has none.</summary>
    string? GroupOf(int index);

    /// <summary>Class indices of the item: exactly one for single-label data.</summary>
    IReadOnlyList<int> LabelsOf(int index);

    /// <summary>Decodes the item; throws <see cref="ImageDecodeException"/> naming the file on failure.</summary>
    ImageBuffer Load(int index, DecodeOptions options);

    /// <summary>
    /// Multi-label targets with masks: per class 1, 0, or NaN when the label is missing or uncertain (not in the loss, not
    /// in the metrics). Null (the default) means "the multi-hot row of <see cref="LabelsOf"/>", nothing masked.
    /// </summary>
    IReadOnlyList<float>? TargetsOf(int index) => null;
}

/// <summary>A view of some items of another dataset, in the given order (a split).</summary>
public sealed class SubsetDataset : IImageDataset
{
    private readonly IImageDataset source;
    private readonly int[] indices;

    public SubsetDataset(IImageDataset source, IEnumerable<int> indices)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(indices);
        this.source = source;
        this.indices = indices.ToArray();
        foreach (var i in this.indices)
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)source.Count, nameof(indices));
    }

    public int Count => indices.Length;

    public ClassMap Classes => source.Classes;

    public bool IsMultiLabel => source.IsMultiLabel;

    /// <summary>The index in the underlying dataset.</summary>
    public int SourceIndex(int index) => indices[index];

    /// <summary>The dataset this is a view of.</summary>
    public IImageDataset Source => source;

    public string NameOf(int index) => source.NameOf(indices[index]);

    public string? GroupOf(int index) => source.GroupOf(indices[index]);

    public IReadOnlyList<int> LabelsOf(int index) => source.LabelsOf(indices[index]);

    public ImageBuffer Load(int index, DecodeOptions options) => source.Load(indices[index], options);

    public IReadOnlyList<float>? TargetsOf(int index) => source.TargetsOf(indices[index]);
}
