using VisionRwkv.Common;
using VisionRwkv.Datasets;
using VisionRwkv.Datasets.Detection;
using VisionRwkv.Detection.Models;
using VisionRwkv.Models;
using VisionRwkv.Training;

namespace VisionRwkv.Detection.Runs;

/// <summary>Settings of the synthetic Fashion-MNIST detection set a <c>synthetic</c> data spec generates.</summary>
public sealed record SyntheticSpec
{
    public int TrainImages { get; init; } = 2000;
    public int ValImages { get; init; } = 200;
    public int TestImages { get; init; } = 500;
    public long Seed { get; init; }

    public SyntheticDetectionOptions ToOptions(int imageSize) => new()
    {
        ImageSize = imageSize, TrainImages = TrainImages, ValImages = ValImages, TestImages = TestImages, Seed = Seed,
    };
}

/// <summary>
/// Everything a detection training run needs: the backbone (a Vision-RWKV preset, resized), the pyramid and head, the
/// data, augmentation, post-processing and the engine's <see cref="TrainConfig"/>. Bound from YAML or JSON by
/// <see cref="ConfigFile"/> (snake_case keys); the resolved spec is written to the run folder as detect_run.json, from
/// which <see cref="TrainedDetector.Open"/> rebuilds the model.
/// </summary>
public sealed record DetectRunSpec
{
    /// <summary>Backbone preset: a Vision-RWKV of <see cref="ModelRegistry"/> (vrwkv_t, vrwkv_s, ...).</summary>
    public string Model { get; init; } = "vrwkv_t";
    /// <summary>Square input side in pixels (images are letterboxed to it); a multiple of the patch size.</summary>
    public int ImgSize { get; init; } = 512;
    /// <summary>
    /// Square input side for validation, test, <c>detect eval</c> and <c>detect predict</c>; null = <see cref="ImgSize"/>.
    /// Evaluating above the training size is the "train small, test large" of FixRes (Touvron et al. 2019) and ViTDet's
    /// larger test scales: more tokens per object at test time, where they are cheap. On the demo's weights trained at
    /// 128, test AP50 was 0.815 at 128, 0.828 at 144 and 0.843 at 160 (README, "Object detection").
    /// </summary>
    public int? TestImgSize { get; init; }
    /// <summary>Input channels (1 for grey images); null = the preset's.</summary>
    public int? InChannels { get; init; }
    public int? PatchSize { get; init; }
    /// <summary>Kernel of the patch embedding; larger than the patch size gives overlapping patches (null = the patch size).</summary>
    public int? PatchKernel { get; init; }
    public int? EmbedDims { get; init; }
    public int? Depth { get; init; }
    public double? DropPathRate { get; init; }
    public double[] PyramidScales { get; init; } = [2, 1, 0.5];
    public int PyramidChannels { get; init; } = 128;
    public int HeadConvs { get; init; } = 2;
    public double[]? RegressRanges { get; init; }
    public double CenterSampleRadius { get; init; } = 1.5;
    /// <summary>Data: synthetic[:DIR], coco:DIR or yolo:DIR (<see cref="DetectionSources"/>).</summary>
    public string Data { get; init; } = "synthetic";
    /// <summary>The synthetic set's sizes (only for data: synthetic).</summary>
    public SyntheticSpec Synthetic { get; init; } = new();
    /// <summary>Backbone weights to start from: a classification run folder, a .safetensors or an official .pth.</summary>
    public string? InitFrom { get; init; }
    /// <summary>Data-loading threads; 0 = one per core.</summary>
    public int Threads { get; init; }
    public DetectionAugmentConfig Augment { get; init; } = new();
    public PostProcessOptions PostProcess { get; init; } = new();
    public TrainConfig Train { get; init; } = Defaults;

    /// <summary>Detection defaults: AdamW at 1e-3 with a short warm-up, no label smoothing, selection by validation AP.</summary>
    public static TrainConfig Defaults => new()
    {
        Epochs = 12,
        BatchSize = 16,
        LearningRate = 1e-3,
        Beta2 = 0.999,
        WarmupEpochs = 1,
        MinLrRatio = 0.01,
        WeightDecay = 0.05,
        LabelSmoothing = 0,
        ClipGradNorm = 10,
        BestMetric = "val_ap",
        KeepCheckpoints = 1,
    };

    /// <summary>The backbone configuration this spec resolves to.</summary>
    public VrwkvConfig BackboneConfig()
    {
        var c = ModelRegistry.Get(Model).Vrwkv
            ?? throw new ArgumentException($"model '{Model}': the detector's backbone must be a Vision-RWKV (vrwkv_*)");
        int channels = InChannels ?? c.InChannels;
        var data = c.Data with
        {
            Channels = channels,
            Height = ImgSize,
            Width = ImgSize,
            Mean = channels == c.Data.Channels ? c.Data.Mean : channels == 1 ? [(float)c.Data.Mean.Average()] : [.. Enumerable.Repeat(c.Data.Mean[0], channels)],
            Std = channels == c.Data.Channels ? c.Data.Std : channels == 1 ? [(float)c.Data.Std.Average()] : [.. Enumerable.Repeat(c.Data.Std[0], channels)],
            CropPct = 1,
        };
        return c with
        {
            ImgHeight = ImgSize,
            ImgWidth = ImgSize,
            InChannels = channels,
            PatchSize = PatchSize ?? c.PatchSize,
            PatchKernel = PatchKernel ?? (PatchSize is null ? c.PatchKernel : null),
            EmbedDims = EmbedDims ?? c.EmbedDims,
            Depth = Depth ?? c.Depth,
            DropPathRate = DropPathRate ?? c.DropPathRate,
            NumClasses = 0,
            Data = data,
        };
    }

    /// <summary>
    /// The pipeline of validation, test, evaluation and prediction: the backbone's data configuration letterboxed to
    /// <paramref name="imgSize"/>, else to <see cref="TestImgSize"/>, else to the training size.
    /// </summary>
    public DetectionPipeline EvalPipeline(int? imgSize = null)
    {
        var backbone = BackboneConfig();
        int side = imgSize ?? TestImgSize ?? ImgSize;
        if (side < backbone.PatchSize || side % backbone.PatchSize != 0)
            throw new ArgumentException($"test image size {side}: must be a positive multiple of the patch size {backbone.PatchSize}");
        return DetectionPipeline.Eval(backbone.Data with { Height = side, Width = side });
    }

    /// <summary>The detector configuration for <paramref name="numClasses"/> classes.</summary>
    public DetectorConfig DetectorConfig(int numClasses) => new()
    {
        Backbone = BackboneConfig(),
        NumClasses = numClasses,
        PyramidScales = PyramidScales,
        PyramidChannels = PyramidChannels,
        HeadConvs = HeadConvs,
        RegressRanges = RegressRanges,
        CenterSampleRadius = CenterSampleRadius,
    };

    /// <summary>Opens the data this spec names.</summary>
    public DetectionSplits OpenData() => DetectionSources.Open(Data, Synthetic.ToOptions(ImgSize));

    public static DetectRunSpec Load(string path) => ConfigFile.Load<DetectRunSpec>(path);

    public string ToJson() => ConfigFile.ToJson(this);
}
