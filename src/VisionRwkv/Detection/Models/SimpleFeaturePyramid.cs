using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Models;

/// <summary>
/// ViTDet's simple feature pyramid (Li et al. 2022): every level comes from the one token map of a plain backbone, by
/// transposed convolutions (finer), as it is, or by max pooling (coarser), then a 1x1 and a 3x3 convolution with
/// normalisation to the pyramid width. No top-down path: ViTDet found it unnecessary for plain backbones.
/// </summary>
public sealed class SimpleFeaturePyramid : nn.Module<Tensor, Tensor[]>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> stages;

    public SimpleFeaturePyramid(int inChannels, IReadOnlyList<double> scales, int outChannels) : base(nameof(SimpleFeaturePyramid))
    {
        stages = new ModuleList<nn.Module<Tensor, Tensor>>();
        int groups = DetectorConfig.GroupNormGroups(outChannels);
        foreach (var scale in scales)
        {
            var layers = new List<nn.Module<Tensor, Tensor>>();
            int width = inChannels;
            switch (scale)
            {
                case 4:
                    layers.Add(nn.ConvTranspose2d(width, width / 2, 2, stride: 2));
                    layers.Add(nn.GroupNorm(DetectorConfig.GroupNormGroups(width / 2), width / 2));
                    layers.Add(nn.GELU());
                    layers.Add(nn.ConvTranspose2d(width / 2, width / 4, 2, stride: 2));
                    width /= 4;
                    break;
                case 2:
                    layers.Add(nn.ConvTranspose2d(width, width / 2, 2, stride: 2));
                    width /= 2;
                    break;
                case 1:
                    break;
                case 0.5:
                    layers.Add(nn.MaxPool2d(2, 2));
                    break;
                case 0.25:
                    layers.Add(nn.MaxPool2d(4, 4));
                    break;
                default:
                    throw new ArgumentException($"pyramid scale {scale}: one of 4, 2, 1, 0.5, 0.25");
            }
            layers.Add(nn.Conv2d(width, outChannels, 1, bias: false));
            layers.Add(nn.GroupNorm(groups, outChannels));
            layers.Add(nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false));
            layers.Add(nn.GroupNorm(groups, outChannels));
            stages.Add(nn.Sequential(layers));
        }
        RegisterComponents();
    }

    /// <param name="map">[B,C,h,w] token map.</param>
    /// <returns>Per level [B,D,h·s,w·s], finest first.</returns>
    public override Tensor[] forward(Tensor map) => [.. stages.Select(s => Autocast.Sequential((Sequential)s, map))];

    /// <summary>The level sizes the forward pass produces for an h×w token map (pooling floors, as MaxPool2d does).</summary>
    public static (int H, int W)[] LevelSizes(int h, int w, IReadOnlyList<double> scales) =>
        [.. scales.Select(s => s >= 1 ? ((int)(h * s), (int)(w * s)) : (h / (int)(1 / s), w / (int)(1 / s)))];
}
