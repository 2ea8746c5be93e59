using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Detection.Models;

/// <summary>The dense output layout of <see cref="VrwkvDetector"/>: where each quantity sits in the last dimension.</summary>
/// <param name="NumClasses">K: columns 0..K-1 are class logits, K..K+3 distances (l,t,r,b) in input pixels, K+4 the centerness logit.</param>
public readonly record struct DenseLayout(int NumClasses)
{
    public int Width => NumClasses + 5;
    public int Distances => NumClasses;
    public int Centerness => NumClasses + 4;
}

/// <summary>The locations a dense output row refers to, for one input size.</summary>
/// <param name="Points">[A,2] (x, y) centres in input pixels.</param>
/// <param name="Strides">[A] the stride of each location's level.</param>
/// <param name="Ranges">[A,2] the [lo, hi) range of max(l,t,r,b) the location's level is responsible for.</param>
/// <param name="LevelSizes">Per level (h, w), finest first; rows are level by level, row-major within a level.</param>
public sealed record DensePoints(Tensor Points, Tensor Strides, Tensor Ranges, (int H, int W)[] LevelSizes) : IDisposable
{
    public int Count => (int)Points.shape[0];

    public void Dispose()
    {
        Points.Dispose();
        Strides.Dispose();
        Ranges.Dispose();
    }
}

/// <summary>
/// Vision-RWKV detector: backbone (official key prefix <c>backbone.</c>, so classification checkpoints load into it) →
/// simple feature pyramid (<c>neck.</c>) → FCOS head (<c>bbox_head.</c>), mmdet's names. The module maps [B,C,H,W]
/// images to one dense tensor [B,A,K+5] over every location of every level (<see cref="DenseLayout"/>), which is what
/// the training engine's single-tensor loss interface carries; <see cref="Points"/> says where each row is.
/// </summary>
public sealed class VrwkvDetector : nn.Module<Tensor, Tensor>, ICheckpointLayout
{
    private readonly VisionRwkvBackbone backbone;
    private readonly SimpleFeaturePyramid neck;
    private readonly FcosHead bbox_head;

    public VrwkvDetector(DetectorConfig config, string name = "vrwkv_fcos") : base(nameof(VrwkvDetector))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Name = name;
        Layout = new DenseLayout(config.NumClasses);
        backbone = new VisionRwkvBackbone(config.Backbone with { NumClasses = 0 });
        neck = new SimpleFeaturePyramid(config.Backbone.EmbedDims, config.PyramidScales, config.PyramidChannels);
        bbox_head = new FcosHead(config.PyramidChannels, config.NumClasses, config.HeadConvs, config.PyramidScales.Count, config.PriorProbability);
        RegisterComponents();
        // The official initialisation for the backbone's Linear/LayerNorm layers; the neck and head set their own.
        Initialization.ApplyOfficial(backbone);
        // GroupNorm's affine parameters are not reliably initialised by TorchSharp (a weight full of NaN was seen here):
        // set PyTorch's defaults, weight 1 and bias 0, explicitly.
        using (no_grad())
        {
            foreach (var (_, module) in named_modules())
            {
                if (module is TorchSharp.Modules.GroupNorm norm)
                {
                    if (norm.weight is { } w) nn.init.ones_(w);
                    if (norm.bias is { } b) nn.init.zeros_(b);
                }
            }
        }
    }

    public DetectorConfig Config { get; }

    public string Name { get; }

    public DenseLayout Layout { get; }

    public VisionRwkvBackbone Backbone => backbone;

    /// <param name="images">[B,C,H,W] normalised images; H and W multiples of the patch size.</param>
    /// <returns>[B,A,K+5] dense predictions (<see cref="DenseLayout"/>).</returns>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var map = backbone.ForwardMap(images);                  // [B,C,h,w]
        var levels = neck.call(map);                            // per level [B,D,h_l,w_l]
        var strides = Config.Strides;
        var rows = new List<Tensor>(levels.Length);
        for (var l = 0; l < levels.Length; l++)
        {
            var (logits, distances, centerness) = bbox_head.Forward(levels[l], l, strides[l]);
            var level = cat([logits, distances, centerness], 1);  // [B,K+5,h_l,w_l]
            rows.Add(level.flatten(2).transpose(1, 2));          // [B,h_l·w_l,K+5]
        }
        return cat(rows, 1).MoveToOuterDisposeScope();           // [B,A,K+5]
    }

    // Fine-tuning from a classifier (--init-from): its backbone.* keys load, its head.* keys are unexpected and skipped,
    // the neck and detection head keep their initialisation; pos_embed is resized to this input's token grid.
    IReadOnlyCollection<string> ICheckpointLayout.HeadKeys =>
        [.. state_dict().Keys.Where(k => !k.StartsWith("backbone.", StringComparison.Ordinal))];

    IReadOnlyDictionary<string, (PatchGrid Grid, int PrefixTokens)> ICheckpointLayout.PositionEmbeddings =>
        new Dictionary<string, (PatchGrid, int)> { ["backbone.pos_embed"] = (Config.Backbone.StoredGrid, 0) };

    string? ICheckpointLayout.InputConvKey => "backbone.patch_embed.projection.weight";

    /// <summary>The locations of the dense rows for an input of <paramref name="height"/>×<paramref name="width"/>.</summary>
    public DensePoints Points(int height, int width, Device? device = null)
    {
        int p = Config.Backbone.PatchSize;
        if (height % p != 0 || width % p != 0)
            throw new ArgumentException($"input {width}x{height} is not a multiple of the patch size {p}");
        var sizes = SimpleFeaturePyramid.LevelSizes(height / p, width / p, Config.PyramidScales);
        var strides = Config.Strides;
        var ranges = Config.LevelRanges();
        var count = sizes.Sum(s => s.H * s.W);
        var points = new float[count * 2];
        var pointStrides = new float[count];
        var pointRanges = new float[count * 2];
        var i = 0;
        for (var l = 0; l < sizes.Length; l++)
        {
            for (var y = 0; y < sizes[l].H; y++)
                for (var x = 0; x < sizes[l].W; x++, i++)
                {
                    // A location is the centre of its cell: (x + ½)·stride.
                    points[2 * i] = (float)((x + 0.5) * strides[l]);
                    points[2 * i + 1] = (float)((y + 0.5) * strides[l]);
                    pointStrides[i] = (float)strides[l];
                    pointRanges[2 * i] = (float)ranges[l].Lo;
                    pointRanges[2 * i + 1] = double.IsPositiveInfinity(ranges[l].Hi) ? float.MaxValue : (float)ranges[l].Hi;
                }
        }
        var dev = device ?? CPU;
        return new DensePoints(tensor(points, [count, 2]).to(dev), tensor(pointStrides, [count]).to(dev), tensor(pointRanges, [count, 2]).to(dev), sizes);
    }
}
