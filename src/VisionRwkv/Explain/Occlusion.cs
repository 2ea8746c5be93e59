using TorchSharp;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>
/// Occlusion sensitivity (Zeiler and Fergus 2014), the model-agnostic reference: a window set to a baseline value
/// slides over the image; each position records the drop of the label's probability (softmax, or sigmoid for
/// multi-label models) against the unoccluded image. A pixel's score is the mean drop over the windows covering it;
/// the map is min-max scaled (a window that raises the probability scores below one that changes nothing).
/// Windows are batched, <see cref="SaliencyOptions.OcclusionBatch"/> per forward pass.
/// </summary>
public static class Occlusion
{
    /// <summary>The map of logit label for image batch x, [1,C,H,W] on the model's device.</summary>
    internal static float[,] Map(IImageClassifier model, Tensor x, int label, SaliencyOptions options)
    {
        var module = Saliency.AsModule(model);
        int height = (int)x.shape[2], width = (int)x.shape[3];
        int window = options.OcclusionWindow ?? PatchSize(model);
        int stride = options.OcclusionStride ?? Math.Max(1, window / 2);
        if (window <= 0 || stride <= 0)
            throw new ArgumentException($"occlusion window ({window}) and stride ({stride}) must be positive");
        var positions = Starts(height, window, stride).SelectMany(y => Starts(width, window, stride).Select(xx => (Y: y, X: xx))).ToList();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        float baseProbability = Probability(module, x, label, options.MultiLabel)[0];
        var drop = zeros(height, width, dtype: float64);
        var count = zeros(height, width, dtype: float64);
        for (int start = 0; start < positions.Count; start += options.OcclusionBatch)
        {
            using var step = NewDisposeScope();
            var batch = positions.Skip(start).Take(options.OcclusionBatch).ToList();
            var copies = x.repeat(batch.Count, 1, 1, 1);                          // [b,C,H,W]
            foreach (var (i, (y, xx)) in batch.Select((p, i) => (i, p)))
                copies[i, .., y..Math.Min(height, y + window), xx..Math.Min(width, xx + window)] = options.OcclusionBaseline;
            var p = Probability(module, copies, label, options.MultiLabel);
            for (int i = 0; i < batch.Count; i++)
            {
                var (y, xx) = batch[i];
                var region = (TensorIndex.Slice(y, Math.Min(height, y + window)), TensorIndex.Slice(xx, Math.Min(width, xx + window)));
                drop[region.Item1, region.Item2] += baseProbability - p[i];
                count[region.Item1, region.Item2] += 1;
            }
        }
        return Saliency.MinMax(drop / count.clamp_min(1));
    }

    /// <summary>Window starts covering [0,size): every stride, plus one flush with the end so the border is covered.</summary>
    internal static IEnumerable<int> Starts(int size, int window, int stride)
    {
        int last = Math.Max(0, size - window);
        for (int s = 0; s < last; s += stride) yield return s;
        yield return last;
    }

    private static float[] Probability(nn.Module<Tensor, Tensor> module, Tensor images, int label, bool multiLabel)
    {
        using var scope = NewDisposeScope();
        var logits = module.call(images).to(float32);                            // [b,K]
        var p = multiLabel ? logits.select(1, label).sigmoid() : logits.softmax(1).select(1, label);
        return p.cpu().data<float>().ToArray();
    }

    private static int PatchSize(IImageClassifier model) => model switch
    {
        VrwkvClassifier v => v.Config.PatchSize,
        VisionTransformer vit => vit.Config.PatchSize,
        _ => 16,
    };
}
