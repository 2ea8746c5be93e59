using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Loading;

/// <summary>
/// One collated batch. The consumer owns it and disposes it (the tensors are detached from any dispose scope).
/// </summary>
public sealed class Batch : IDisposable
{
    internal Batch(int number, Tensor images, Tensor targets, int[] indices, double mixLambda)
    {
        Number = number;
        Images = images;
        Targets = targets;
        Indices = indices;
        MixLambda = mixLambda;
    }

    /// <summary>Position of the batch within its epoch.</summary>
    public int Number { get; }

    /// <summary>[B,C,H,W] float32.</summary>
    public Tensor Images { get; }

    /// <summary>[B] int64 class ids for single-label data; [B,K] float32 for multi-label data or mixed (soft) targets.</summary>
    public Tensor Targets { get; }

    /// <summary>Dataset indices of the rows, in order (skipped items are absent).</summary>
#pragma warning disable CA1819 // A plain array is the cheapest handle to the row order.
    public int[] Indices { get; }
#pragma warning restore CA1819

    /// <summary>The mixup/cutmix weight used (1 when the batch was not mixed).</summary>
    public double MixLambda { get; }

    public int Size => Indices.Length;

    public void Dispose()
    {
        Images.Dispose();
        Targets.Dispose();
    }
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
