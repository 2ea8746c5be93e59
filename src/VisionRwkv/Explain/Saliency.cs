using TorchSharp;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>
/// Saliency maps for any <see cref="IImageClassifier"/>: one entry point over Grad-CAM, the Vision-RWKV WKV map and
/// occlusion. Every map has the image's resolution and lies in [0,1] (1 = most salient).
/// </summary>
public static class Saliency
{
    /// <summary>
    /// The saliency map of label (a logit index; negative = the top predicted label) for one image [C,H,W],
    /// normalised as the model expects, by method; returns [H,W] in [0,1]. The model runs in eval mode (its mode is
    /// restored afterwards).
    /// </summary>
    public static float[,] Map(IImageClassifier model, Tensor image, int label, SaliencyMethod method, SaliencyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(image);
        options ??= SaliencyOptions.Default;
        if (image.dim() != 3)
            throw new ArgumentException($"saliency expects one image [C,H,W]; got [{string.Join(",", image.shape)}]", nameof(image));
        if (label >= model.NumClasses)
            throw new ArgumentOutOfRangeException(nameof(label), $"label {label} is not an output of {model.Name} ({model.NumClasses} labels)");
        var module = AsModule(model);
        bool wasTraining = module.training;
        module.eval();   // dropout and drop path would make the map random
        try
        {
            using var scope = NewDisposeScope();
            var x = image.unsqueeze(0).to(ParameterDevice(module));          // [1,C,H,W]
            if (label < 0) label = TopLabel(module, x);
            return method switch
            {
                SaliencyMethod.GradCam => GradCam.Map(model, x, label, options),
                SaliencyMethod.Wkv => WkvAttribution.Map(model, x, label, options),
                SaliencyMethod.Occlusion => Occlusion.Map(model, x, label, options),
                _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown saliency method"),
            };
        }
        finally
        {
            if (wasTraining) module.train();
        }
    }

    /// <summary>The highest-scoring logit of the image (for softmax and sigmoid models alike the largest logit).</summary>
    public static int TopLabel(IImageClassifier model, Tensor image)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(image);
        var module = AsModule(model);
        using var scope = NewDisposeScope();
        var x = image.dim() == 3 ? image.unsqueeze(0) : image;
        return TopLabel(module, x.to(ParameterDevice(module)));
    }

    private static int TopLabel(nn.Module<Tensor, Tensor> module, Tensor x)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return (int)module.call(x)[0].argmax().item<long>();
    }

    internal static nn.Module<Tensor, Tensor> AsModule(IImageClassifier model) =>
        model as nn.Module<Tensor, Tensor>
        ?? throw new ArgumentException($"{model.Name} is not a TorchSharp module mapping images to logits", nameof(model));

    internal static Device ParameterDevice(nn.Module module) =>
        module.parameters().FirstOrDefault()?.device ?? CPU;

    /// <summary>Upsamples a [h,w] grid map bilinearly (align_corners false, as Grad-CAM's reference code) to [H,W].</summary>
    internal static Tensor Upsample(Tensor grid, long height, long width) =>
        nn.functional.interpolate(grid.reshape(1, 1, grid.shape[0], grid.shape[1]), [height, width],
            mode: InterpolationMode.Bilinear, align_corners: false).reshape(height, width);

    /// <summary>Divides by the maximum (maps that are ≥ 0 with a meaningful zero, such as Grad-CAM); all zeros stay zeros.</summary>
    internal static float[,] ScaleByMax(Tensor map)
    {
        var m = map.to(float32).cpu();
        float max = m.max().item<float>();
        return ToArray(max > 0 ? m / max : zeros_like(m));
    }

    /// <summary>Min-max to [0,1] (maps whose offset carries no meaning); a constant map becomes all zeros.</summary>
    internal static float[,] MinMax(Tensor map)
    {
        var m = map.to(float32).cpu();
        float min = m.min().item<float>(), max = m.max().item<float>();
        return ToArray(max > min ? (m - min) / (max - min) : zeros_like(m));
    }

    internal static float[,] ToArray(Tensor map)
    {
        var data = map.contiguous().data<float>().ToArray();
        int h = (int)map.shape[0], w = (int)map.shape[1];
        var result = new float[h, w];
        Buffer.BlockCopy(data, 0, result, 0, data.Length * sizeof(float));
        return result;
    }

    /// <summary>The position of the map's maximum, ties broken by the first in row-major order.</summary>
    public static (int Y, int X) Peak(float[,] map)
    {
        ArgumentNullException.ThrowIfNull(map);
        int by = 0, bx = 0;
        float best = float.NegativeInfinity;
        for (int y = 0; y < map.GetLength(0); y++)
            for (int x = 0; x < map.GetLength(1); x++)
                if (map[y, x] > best)
                {
                    best = map[y, x];
                    (by, bx) = (y, x);
                }
        return (by, bx);
    }
}
