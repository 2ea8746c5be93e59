using System.Collections.Concurrent;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Common;
using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Detection;

/// <summary>One image's targets in a batch: boxes in input pixels (xyxy) and how to map predictions back.</summary>
public sealed class DetectionTarget : IDisposable
{
    internal DetectionTarget(Tensor boxes, Tensor labels, bool[] isCrowd, AffineMap map, int originalWidth, int originalHeight, long imageId)
    {
        Boxes = boxes;
        Labels = labels;
        IsCrowd = isCrowd;
        Map = map;
        OriginalWidth = originalWidth;
        OriginalHeight = originalHeight;
        ImageId = imageId;
    }

    /// <summary>[n,4] float32, xyxy in input pixels; n may be 0.</summary>
    public Tensor Boxes { get; }

    /// <summary>[n] int64 class labels (0-based).</summary>
    public Tensor Labels { get; }

    /// <summary>Per box: a COCO crowd region (usually left out of training targets, never a positive).</summary>
#pragma warning disable CA1819 // A plain array is the cheapest per-box flag.
    public bool[] IsCrowd { get; }
#pragma warning restore CA1819

    /// <summary>Original image pixels -> input pixels; <see cref="AffineMap.Invert"/> takes predictions back.</summary>
    public AffineMap Map { get; }

    public int OriginalWidth { get; }

    public int OriginalHeight { get; }

    /// <summary>The COCO image id (for results files).</summary>
    public long ImageId { get; }

    public int Count => IsCrowd.Length;

    public void Dispose()
    {
        Boxes.Dispose();
        Labels.Dispose();
    }
}

/// <summary>One collated detection batch. The consumer owns it and disposes it (the tensors are detached from any scope).</summary>
public sealed class DetectionBatch : IDisposable
{
    internal DetectionBatch(int number, Tensor images, IReadOnlyList<DetectionTarget> targets, int[] indices)
    {
        Number = number;
        Images = images;
        Targets = targets;
        Indices = indices;
    }

    public int Number { get; }

    /// <summary>[B,C,H,W] float32.</summary>
    public Tensor Images { get; }

    /// <summary>Per image, in row order.</summary>
    public IReadOnlyList<DetectionTarget> Targets { get; }

    /// <summary>Dataset indices of the rows (skipped items are absent).</summary>
#pragma warning disable CA1819
    public int[] Indices { get; }
#pragma warning restore CA1819

    public int Size => Indices.Length;

    public void Dispose()
    {
        Images.Dispose();
        foreach (var t in Targets)
            t.Dispose();
    }
}

/// <summary>
/// The detection counterpart of <see cref="DataLoader"/>, with the same guarantees: worker threads decode and transform
/// into plain arrays (no tensors off the consuming thread); shuffling uses (Seed, epoch) and each sample's augmentation
/// (Seed, epoch, dataset index) through <see cref="SeededRng.For"/>, so batches are identical for any thread count; a
/// bounded number of batches is prepared ahead; items that fail to load are skipped and recorded.
/// </summary>
public sealed class DetectionLoader
{
    private readonly ConcurrentDictionary<int, SkippedItem> skipped = new();

    public DetectionLoader(IDetectionDataset dataset, DetectionPipeline pipeline, LoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        Dataset = dataset;
        Pipeline = pipeline;
        Options = options;
    }

    public IDetectionDataset Dataset { get; }

    public DetectionPipeline Pipeline { get; }

    public LoaderOptions Options { get; }

    public IReadOnlyList<SkippedItem> Skipped => [.. skipped.Values.OrderBy(s => s.Index)];

    public int BatchesPerEpoch => Options.DropLast ? Dataset.Count / Options.BatchSize : (Dataset.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>The order in which an epoch visits the dataset (the same permutation rule as the classification loader).</summary>
    public int[] EpochOrder(int epoch) =>
        Options.Shuffle ? SeededRng.For(Options.Seed, epoch, -1).Permutation(Dataset.Count) : [.. Enumerable.Range(0, Dataset.Count)];

    /// <summary>One sample through the pipeline with its (Seed, epoch, index) generator; what a batch row holds.</summary>
    public DetectionSample Sample(int index, int epoch)
    {
        var img = Dataset.Load(index, Pipeline.Decode);
        return Pipeline.Apply(DetectionSample.FromOriginal(img, Dataset.ObjectsOf(index)), SeededRng.For(Options.Seed, epoch, index));
    }

    /// <summary>The batches of one epoch, in order. Dispose each. Stopping early or cancelling stops the workers.</summary>
    public IEnumerable<DetectionBatch> Epoch(int epoch, CancellationToken cancellationToken = default)
    {
        var order = EpochOrder(epoch);
        var batches = BatchesPerEpoch;
        var prefetch = Options.Prefetch > 0 ? Options.Prefetch : Math.Max(2, Options.Threads);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // One limiter shared by all in-flight batches, so at most Threads samples are processed at once.
        using var limiter = new SemaphoreSlim(Options.Threads);
        var queue = new Queue<Task<Prepared>>();
        var next = 0;
        void Enqueue()
        {
            var b = next++;
            var idx = order.Skip(b * Options.BatchSize).Take(Options.BatchSize).ToArray();
            queue.Enqueue(PrepareAsync(b, idx, epoch, limiter, stop.Token));
        }
        try
        {
            while (next < batches && queue.Count < prefetch)
                Enqueue();
            while (queue.Count > 0)
            {
                var task = queue.Dequeue();
                Prepared prepared;
                try
                {
                    prepared = task.GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new InvalidOperationException($"Data loading failed in epoch {epoch}: {e.Message}", e);
                }
                if (next < batches)
                    Enqueue();
                cancellationToken.ThrowIfCancellationRequested();
                if (prepared.Rows.Length == 0)
                    continue;
                yield return Collate(prepared);
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var t in queue)
            {
                try
                {
                    t.Wait(CancellationToken.None);
                }
                catch (AggregateException)
                {
                    // cancelled or failed while the consumer had already stopped
                }
            }
        }
    }

    private sealed record Row(int Index, float[] Pixels, DetectionSample Sample);

    private sealed record Prepared(int Number, Row[] Rows);

    private async Task<Prepared> PrepareAsync(int number, int[] indices, int epoch, SemaphoreSlim limiter, CancellationToken ct)
    {
        var rows = new Row?[indices.Length];
        var work = new Task[indices.Length];
        for (var j = 0; j < indices.Length; j++)
        {
            var slot = j;
            work[j] = Task.Run(async () =>
            {
                await limiter.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    ct.ThrowIfCancellationRequested();
                    var index = indices[slot];
                    try
                    {
                        var s = Sample(index, epoch);
                        rows[slot] = new Row(index, s.Image.Data, s);
                    }
                    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
                    {
                        var reason = e is ImageDecodeException d ? d.Reason : e.Message;
                        skipped.TryAdd(index, new SkippedItem(index, Dataset.NameOf(index), reason));
                    }
                }
                finally
                {
                    limiter.Release();
                }
            }, ct);
        }
        // Awaited, not waited on: a blocked pool thread per batch in flight would starve the samples' own tasks.
        await Task.WhenAll(work).ConfigureAwait(false);
        return new Prepared(number, [.. rows.Where(r => r is not null).Select(r => r!)]);
    }

    private DetectionBatch Collate(Prepared prepared)
    {
        int n = prepared.Rows.Length, c = Pipeline.Channels, h = Pipeline.Height, w = Pipeline.Width, size = c * h * w;
        using var scope = NewDisposeScope();
        var data = new float[n * size];
        for (var i = 0; i < n; i++)
            prepared.Rows[i].Pixels.AsSpan().CopyTo(data.AsSpan(i * size, size));
        var images = tensor(data, [n, c, h, w]); // [B,C,H,W]
        var targets = new List<DetectionTarget>(n);
        foreach (var row in prepared.Rows)
        {
            var objs = row.Sample.Objects;
            var boxes = new float[objs.Count * 4];
            var labels = new long[objs.Count];
            for (var j = 0; j < objs.Count; j++)
            {
                var b = objs[j].Box;
                boxes[4 * j] = (float)b.X1;
                boxes[4 * j + 1] = (float)b.Y1;
                boxes[4 * j + 2] = (float)b.X2;
                boxes[4 * j + 3] = (float)b.Y2;
                labels[j] = objs[j].Label;
            }
            var bt = tensor(boxes, [objs.Count, 4]); // [n,4]
            var lt = tensor(labels, [objs.Count]); // [n]
            bt.DetachFromDisposeScope();
            lt.DetachFromDisposeScope();
            targets.Add(new DetectionTarget(bt, lt, [.. objs.Select(o => o.IsCrowd)], row.Sample.Map, row.Sample.OriginalWidth, row.Sample.OriginalHeight,
                Dataset.ImageIdOf(row.Index)));
        }
        images.DetachFromDisposeScope();
        return new DetectionBatch(prepared.Number, images, targets, [.. prepared.Rows.Select(r => r.Index)]);
    }
}
