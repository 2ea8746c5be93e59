using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Models;

/// <summary>
/// The FCOS head (Tian et al. 2019, with the FCOS+ changes mmdet uses: centerness on the regression branch, distances
/// normalised by the stride, GIoU). One head shared by every level: a classification branch and a regression branch of
/// conv-GN-ReLU layers, then per location K class logits, 4 distances (left, top, right, bottom) and a centerness logit.
/// FCOS rather than CenterNet: it keeps the multi-level pyramid the backbone's single map was expanded into, and its
/// losses are the ones asked for (sigmoid focal loss on classes, GIoU on boxes) without CenterNet's Gaussian heatmaps.
/// </summary>
public sealed class FcosHead : nn.Module
{
    private readonly Sequential cls_convs;
    private readonly Sequential reg_convs;
    private readonly Conv2d conv_cls;
    private readonly Conv2d conv_reg;
    private readonly Conv2d conv_centerness;
    private readonly ParameterList scales;

    public FcosHead(int channels, int numClasses, int convs, int levels, double priorProbability) : base(nameof(FcosHead))
    {
        int groups = DetectorConfig.GroupNormGroups(channels);
        Sequential Branch()
        {
            var layers = new List<nn.Module<Tensor, Tensor>>();
            for (var i = 0; i < convs; i++)
            {
                layers.Add(nn.Conv2d(channels, channels, 3, padding: 1, bias: false));
                layers.Add(nn.GroupNorm(groups, channels));
                layers.Add(nn.ReLU());
            }
            return nn.Sequential(layers);
        }
        cls_convs = Branch();
        reg_convs = Branch();
        conv_cls = nn.Conv2d(channels, numClasses, 3, padding: 1);
        conv_reg = nn.Conv2d(channels, 4, 3, padding: 1);
        conv_centerness = nn.Conv2d(channels, 1, 3, padding: 1);
        // One learnable scale per level (FCOS's Scale module), so levels share the head but not their distance range.
        scales = new ParameterList();
        for (var i = 0; i < levels; i++)
            scales.Add(new Parameter(ones(1)));
        RegisterComponents();

        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".weight", StringComparison.Ordinal) && p.ndim == 4)
                nn.init.normal_(p, 0, 0.01);
            else if (name.EndsWith(".bias", StringComparison.Ordinal) && p.ndim == 1 && !name.Contains("norm", StringComparison.Ordinal) && p.shape[0] != channels)
                nn.init.zeros_(p);
        }
        // Every class starts at the prior probability: with focal loss, logits of 0 would make the background loss
        // of thousands of locations swamp the first updates (RetinaNet §4.1).
        conv_cls.bias!.fill_(-Math.Log((1 - priorProbability) / priorProbability));
    }

    /// <summary>The level's learnable distance scale (index = level).</summary>
    public Tensor Scale(int level) => scales[level];

    /// <param name="x">[B,D,h,w] one pyramid level.</param>
    /// <param name="level">Its index (selects the level's scale).</param>
    /// <param name="stride">Its stride in input pixels.</param>
    /// <returns>logits [B,K,h,w], distances in input pixels [B,4,h,w] (≥ 0), centerness logits [B,1,h,w].</returns>
    public (Tensor Logits, Tensor Distances, Tensor Centerness) Forward(Tensor x, int level, double stride)
    {
        using var scope = NewDisposeScope();
        var c = Autocast.Sequential(cls_convs, x);
        var r = Autocast.Sequential(reg_convs, x);
        var logits = Autocast.Conv2d(conv_cls, c);
        // FCOS+ "norm_on_bbox": ReLU(scale·x)·stride while training and testing alike.
        var distances = nn.functional.relu(Autocast.Conv2d(conv_reg, r) * scales[level]) * stride;
        var centerness = Autocast.Conv2d(conv_centerness, r);
        return (logits.MoveToOuterDisposeScope(), distances.MoveToOuterDisposeScope(), centerness.MoveToOuterDisposeScope());
    }
}
