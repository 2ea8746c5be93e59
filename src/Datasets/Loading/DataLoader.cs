using System.Collections.Concurrent;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;
using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Loading;

/// <summary>
/// Multi-threaded batch loader. Worker threads decode and transform whole batches into plain float arrays (no tensors on
/// workers); the consuming thread turns each finished batch into tensors, in order, so tensors have one owner. A bounded
/// number of batches is prepared ahead. Shuffling uses (Seed, epoch) and each sample's augmentation uses
/// (Seed, epoch, dataset index), so the batches are identical for any thread count. Items that fail to load are skipped
/// and recorded in <see cref="Skipped"/>.
/// </summary>
public sealed class DataLoader : IBatchSource
{
    private readonly ConcurrentDictionary<int, SkippedItem> skipped = new();

    public DataLoader(IImageDataset dataset, ImagePipeline pipeline, LoaderOptions options, MixupCutmix? mixup = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        Dataset = dataset;
        Pipeline = pipeline;
        Options = options;
        Mixup = mixup;
    }

    public IImageDataset Dataset { get; }

    public ImagePipeline Pipeline { get; }

    public LoaderOptions Options { get; }

    public MixupCutmix? Mixup { get; }

    /// <summary>Items skipped so far (each once), ordered by index.</summary>
    public IReadOnlyList<SkippedItem> Skipped => [.. skipped.Values.OrderBy(s => s.Index)];

    /// <inheritdoc />
    public int BatchCount => BatchesPerEpoch;

    /// <inheritdoc />
    public IEnumerable<Batch> GetBatches(int epoch) => Epoch(epoch);

    public int BatchesPerEpoch => Options.DropLast ? Dataset.Count / Options.BatchSize : (Dataset.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>The order in which an epoch visits the dataset.</summary>
    public int[] EpochOrder(int epoch)
    {
        if (!Options.Shuffle)
            return [.. Enumerable.Range(0, Dataset.Count)];
        return SeededRng.For(Options.Seed, epoch, -1).Permutation(Dataset.Count);
    }

    /// <summary>
    /// The batches of one epoch. Dispose each batch. Stopping the enumeration early (break, dispose) or cancelling
    /// <paramref name="cancellationToken"/> stops the workers; cancellation then throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, CancellationToken cancellationToken = default)
    {
        foreach (var prepared in PreparedBatches(epoch, cancellationToken))
        {
            if (prepared.Indices.Length == 0)
                continue;
            // A batch that was already prepared when the token fired is not handed out: cancellation stops at once.
            cancellationToken.ThrowIfCancellationRequested();
            yield return Collate(prepared, epoch);
        }
    }

    /// <summary>Batches as float arrays, before tensors are made (what the workers produce).</summary>
    internal IEnumerable<PreparedBatch> PreparedBatches(int epoch, CancellationToken cancellationToken)
    {
        var order = EpochOrder(epoch);
        var batchCount = BatchesPerEpoch;
        if (batchCount == 0)
            yield break;
        var batchSize = Options.BatchSize;
        var positions = Math.Min(order.Length, batchCount * batchSize);
        var sampleSize = Pipeline.Channels * Pipeline.Height * Pipeline.Width;
        var prefetch = Options.Prefetch > 0 ? Options.Prefetch : Math.Max(2, Options.Threads);
        var pending = new Pending?[batchCount];
        var gate = new object();
        Exception? failure = null;
        var nextPosition = 0;
        var consumed = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // Work is handed out per sample (not per batch) so that every thread helps with every batch; a sample may be
        // claimed only while its batch is within `prefetch` batches of the consumer, which bounds memory.
        void Work()
        {
            try
            {
                while (true)
                {
                    int position, b;
                    Pending batch;
                    lock (gate)
                    {
                        while (true)
                        {
                            if (stop.IsCancellationRequested || failure is not null || nextPosition >= positions)
                                return;
                            b = nextPosition / batchSize;
                            if (b < consumed + prefetch)
                                break;
                            Monitor.Wait(gate, 50);
                        }
                        position = nextPosition++;
                        batch = pending[b] ??= new Pending(Math.Min(batchSize, positions - b * batchSize), sampleSize);
                    }
                    var slot = position - b * batchSize;
                    var index = order[position];
                    batch.Indices[slot] = index;
                    batch.Kept[slot] = Process(index, epoch, batch.Images.AsSpan(slot * sampleSize, sampleSize));
                    if (Interlocked.Decrement(ref batch.Remaining) == 0)
                    {
                        lock (gate)
                            Monitor.PulseAll(gate);
                    }
                }
            }
#pragma warning disable CA1031 // Any worker failure is handed to the consumer, which rethrows it.
            catch (Exception e)
#pragma warning restore CA1031
            {
                lock (gate)
                {
                    failure ??= e;
                    Monitor.PulseAll(gate);
                }
            }
        }

        var workers = new Thread[Options.Threads];
        for (var t = 0; t < workers.Length; t++)
        {
            workers[t] = new Thread(Work) { IsBackground = true, Name = $"rwkv-data-{t}" };
            workers[t].Start();
        }
        try
        {
            for (var b = 0; b < batchCount; b++)
            {
                Pending? item;
                lock (gate)
                {
                    while (((item = pending[b]) is null || Volatile.Read(ref item.Remaining) > 0) && failure is null)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        Monitor.Wait(gate, 50);
                    }
                    if (failure is not null)
                        throw new InvalidOperationException($"Data loading failed in epoch {epoch}: {failure.Message}", failure);
                    pending[b] = null;
                    consumed++;
                    Monitor.PulseAll(gate);
                }
                yield return item!.Compact(b, sampleSize);
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var w in workers)
                w.Join();
        }
    }

    /// <summary>Loads and transforms one item into <paramref name="destination"/>; false (and a skip record) when it cannot be read.</summary>
    private bool Process(int index, int epoch, Span<float> destination)
    {
        ImageBuffer img;
        try
        {
            img = Dataset.Load(index, Pipeline.Decode);
            img = Pipeline.Apply(img, SeededRng.For(Options.Seed, epoch, index));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            var reason = e is ImageDecodeException d ? d.Reason : e.Message;
            skipped.TryAdd(index, new SkippedItem(index, Dataset.NameOf(index), reason));
            return false;
        }
        img.Data.AsSpan().CopyTo(destination);
        return true;
    }

    private sealed class Pending(int count, int sampleSize)
    {
        public float[] Images { get; } = new float[count * sampleSize];

        public int[] Indices { get; } = new int[count];

        public bool[] Kept { get; } = new bool[count];

#pragma warning disable CA1051 // Decremented with Interlocked by the workers.
        public int Remaining = count;
#pragma warning restore CA1051

        /// <summary>The kept rows only, moved to the front.</summary>
        public PreparedBatch Compact(int number, int sampleSize)
        {
            var kept = 0;
            for (var i = 0; i < Kept.Length; i++)
            {
                if (!Kept[i])
                    continue;
                if (kept != i)
                    Images.AsSpan(i * sampleSize, sampleSize).CopyTo(Images.AsSpan(kept * sampleSize, sampleSize));
                Indices[kept++] = Indices[i];
            }
            return new PreparedBatch(number, Indices[..kept], Images, kept * sampleSize);
        }
    }

    private Batch Collate(PreparedBatch prepared, int epoch)
    {
        var n = prepared.Indices.Length;
        int c = Pipeline.Channels, h = Pipeline.Height, w = Pipeline.Width;
        var k = Dataset.Classes.Count;
        using var scope = NewDisposeScope();
        var data = prepared.Length == prepared.Images.Length ? prepared.Images : prepared.Images.AsSpan(0, prepared.Length).ToArray();
        var images = tensor(data, [n, c, h, w]); // [B,C,H,W]
        Tensor targets;
        if (Dataset.IsMultiLabel)
        {
            // Masked labels (NaN) pass through: the loss and the metrics drop them.
            var hot = new float[n * k];
            for (var i = 0; i < n; i++)
            {
                if (Dataset.TargetsOf(prepared.Indices[i]) is { } masked)
                {
                    for (var j = 0; j < k; j++) hot[i * k + j] = masked[j];
                    continue;
                }
                foreach (var label in Dataset.LabelsOf(prepared.Indices[i]))
                    hot[i * k + label] = 1f;
            }
            targets = tensor(hot, [n, k]); // [B,K]
        }
        else
        {
            var ids = new long[n];
            for (var i = 0; i < n; i++)
                ids[i] = Dataset.LabelsOf(prepared.Indices[i])[0];
            targets = tensor(ids, [n]); // [B]
        }
        var lambda = 1.0;
        if (Mixup is not null)
            targets = Mixup.Apply(images, targets, SeededRng.For(Options.Seed ^ 0x6D69787570L, epoch, prepared.Number), out lambda); // [B,K]
        images.DetachFromDisposeScope();
        targets.DetachFromDisposeScope();
        return new Batch(images, targets, prepared.Indices, prepared.Number, lambda);
    }

    internal sealed record PreparedBatch(int Number, int[] Indices, float[] Images, int Length);
}
