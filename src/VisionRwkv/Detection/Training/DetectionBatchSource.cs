using VisionRwkv.Datasets.Detection;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Detection.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Training;

/// <summary>
/// A <see cref="DetectionLoader"/> seen through the engine's one batch type: inputs are the images, targets the boxes
/// of every image packed into [B,M,6] rows (x0, y0, x1, y1, label, crowd) padded with label −1
/// (<see cref="FcosLoss.TargetWidth"/>). The trainer moves one tensor to the device; the loss unpacks it.
/// </summary>
public sealed class DetectionBatchSource(DetectionLoader loader) : IBatchSource
{
    public DetectionLoader Loader { get; } = loader ?? throw new ArgumentNullException(nameof(loader));

    public int BatchCount => Loader.BatchesPerEpoch;

    public IReadOnlyList<SkippedItem> Skipped => Loader.Skipped;

    public IEnumerable<Batch> GetBatches(int epoch)
    {
        foreach (var batch in Loader.Epoch(epoch))
        {
            using (batch)
                yield return new Batch(batch.Images.alias(), Pack(batch.Targets), batch.Indices, batch.Number);
        }
    }

    /// <summary>[B,M,6] packed targets (M = the most boxes of any image, at least 1).</summary>
    public static Tensor Pack(IReadOnlyList<DetectionTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        int m = Math.Max(1, targets.Count == 0 ? 0 : targets.Max(t => t.Count));
        var data = new float[targets.Count * m * FcosLoss.TargetWidth];
        for (var i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            // data<T>() refuses an empty tensor, and an image may have no boxes.
            var boxes = t.Count == 0 ? [] : t.Boxes.data<float>().ToArray();
            var labels = t.Count == 0 ? [] : t.Labels.data<long>().ToArray();
            for (var j = 0; j < m; j++)
            {
                var o = (i * m + j) * FcosLoss.TargetWidth;
                if (j >= t.Count)
                {
                    data[o + 4] = -1;
                    continue;
                }
                for (var c = 0; c < 4; c++)
                    data[o + c] = boxes[4 * j + c];
                data[o + 4] = labels[j];
                data[o + 5] = t.IsCrowd[j] ? 1 : 0;
            }
        }
        return tensor(data, [targets.Count, m, FcosLoss.TargetWidth]);
    }
}
