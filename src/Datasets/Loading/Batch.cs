using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Loading;

/// <summary>
/// One mini-batch, the single batch type between data and training: inputs (images [B,C,H,W], or token ids [B,T]),
/// targets (class ids [B], multi-hot or soft rows [B,K], next tokens [B,T], ...) and the dataset rows they came from.
/// The consumer owns it and disposes it, which disposes both tensors.
/// </summary>
public sealed class Batch : IDisposable
{
    /// <summary>A batch that owns <paramref name="inputs"/> and <paramref name="targets"/>.</summary>
    /// <param name="inputs">[B,...] model inputs.</param>
    /// <param name="targets">[B,...] training targets.</param>
    /// <param name="indices">Dataset indices of the rows (default 0..B-1).</param>
    /// <param name="number">Position of the batch within its epoch.</param>
    /// <param name="mixLambda">The mixup/CutMix weight used (1 when not mixed).</param>
    public Batch(Tensor inputs, Tensor targets, int[]? indices = null, int number = 0, double mixLambda = 1)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.shape.Length == 0 || targets.shape.Length == 0 || inputs.shape[0] != targets.shape[0])
            throw new ArgumentException($"Batch inputs [{string.Join(",", inputs.shape)}] and targets [{string.Join(",", targets.shape)}] must share the leading batch dimension.");
        Inputs = inputs;
        Targets = targets;
        Indices = indices ?? [.. Enumerable.Range(0, (int)inputs.shape[0])];
        Number = number;
        MixLambda = mixLambda;
    }

    /// <summary>Position of the batch within its epoch.</summary>
    public int Number { get; }

    /// <summary>Model inputs: [B,C,H,W] float32 images (or [B,T] int64 tokens).</summary>
    public Tensor Inputs { get; }

    /// <summary>[B] int64 class ids for single-label data; [B,K] float32 for multi-label data or mixed (soft) targets.</summary>
    public Tensor Targets { get; }

    /// <summary>Dataset indices of the rows, in order (skipped items are absent).</summary>
#pragma warning disable CA1819 // A plain array is the cheapest handle to the row order.
    public int[] Indices { get; }
#pragma warning restore CA1819

    /// <summary>The mixup/cutmix weight used (1 when the batch was not mixed).</summary>
    public double MixLambda { get; }

    /// <summary>B.</summary>
    public int Size => Indices.Length;

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>
/// Supplies batches epoch by epoch. Implementations must be deterministic given the epoch (their own seed fixes
/// shuffling and augmentation), so that a resumed run sees the same data as an uninterrupted one.
/// </summary>
public interface IBatchSource
{
    /// <summary>Number of batches <see cref="GetBatches"/> yields per epoch.</summary>
    int BatchCount { get; }

    /// <summary>The batches of one epoch; each yielded batch is owned, and disposed, by the consumer.</summary>
    IEnumerable<Batch> GetBatches(int epoch);

    /// <summary>Items that could not be loaded so far (each once); empty for sources that cannot skip.</summary>
    IReadOnlyList<SkippedItem> Skipped => [];
}

/// <summary>An item the loader could not use: its index, file and the reason. The run goes on without it.</summary>
public sealed record SkippedItem(int Index, string Name, string Reason);

/// <summary>Loader settings.</summary>
public sealed record LoaderOptions
{
    public int BatchSize { get; init; } = 64;

    /// <summary>Shuffle every epoch with a permutation derived from (Seed, epoch).</summary>
    public bool Shuffle { get; init; }

    public bool DropLast { get; init; }

    /// <summary>Worker threads that decode and augment; results do not depend on it.</summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Batches being prepared ahead of the consumer (the bound of the queue); 0 means max(2, Threads).</summary>
    public int Prefetch { get; init; }

    public long Seed { get; init; }
}
