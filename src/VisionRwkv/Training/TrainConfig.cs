using VisionRwkv.Common;

namespace VisionRwkv.Training;

/// <summary>
/// Every option of the training engine. Plain init-only properties bound from YAML/JSON by <see cref="ConfigFile"/>;
/// the resolved copy is written to the run folder as <c>config.json</c> and read back by <see cref="Trainer.Resume"/>.
/// </summary>
public sealed record TrainConfig
{
    /// <summary>Passes over the training source.</summary>
    public int Epochs { get; init; } = 100;
    /// <summary>Images per batch; the trainer does not batch, the data layer reads this to build its sources.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Peak learning rate reached after warm-up (AdamW).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>The cosine schedule ends at LearningRate * MinLrRatio (VRWKV recipe: 1e-2).</summary>
    public double MinLrRatio { get; init; } = 1e-2;
    /// <summary>Linear warm-up length in epochs (fractions allowed); ignored when <see cref="WarmupSteps"/> is positive.</summary>
    public double WarmupEpochs { get; init; } = 5;
    /// <summary>Linear warm-up length in optimizer updates; 0 means use <see cref="WarmupEpochs"/>.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>Warm-up starts at LearningRate * WarmupStartRatio (VRWKV recipe: 1e-3).</summary>
    public double WarmupStartRatio { get; init; } = 1e-3;
    /// <summary>Decoupled AdamW weight decay for the decayed parameter group.</summary>
    public double WeightDecay { get; init; } = 0.05;
    /// <summary>AdamW first-moment coefficient.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>AdamW second-moment coefficient.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>AdamW denominator epsilon.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Apply weight decay to normalisation-layer weights and to biases too (timm/mmcv default: no).</summary>
    public bool DecayNormAndBias { get; init; }
    /// <summary>Apply weight decay to every other 1-D parameter (scales, decays, mixes) too (timm default: no).</summary>
    public bool DecayOneDimensional { get; init; }
    /// <summary>Parameter names containing any of these substrings get no weight decay (e.g. "pos_embed").</summary>
    public string[] NoDecayNames { get; init; } = [];
    /// <summary>Cross-entropy label smoothing (single-label mode only).</summary>
    public double LabelSmoothing { get; init; } = 0.1;
    /// <summary>Clip the global gradient L2 norm to this value before each update; 0 turns clipping off.</summary>
    public double ClipGradNorm { get; init; } = 5.0;
    /// <summary>Micro-batches whose gradients are summed (each scaled 1/N) before one optimizer update.</summary>
    public int GradAccumSteps { get; init; } = 1;
    /// <summary>Keep an exponential moving average of the weights and evaluate it separately.</summary>
    public bool Ema { get; init; }
    /// <summary>EMA decay per optimizer update (timm default 0.9998).</summary>
    public double EmaDecay { get; init; } = 0.9998;
    /// <summary>Ramp the EMA decay as min(decay, (1+t)/(10+t)) so early averages are not dominated by the random init.</summary>
    public bool EmaWarmup { get; init; } = true;
    /// <summary>Fine-tuning: multiply the learning rate of every backbone parameter (all but the head) by this (timm's lr_scale).</summary>
    public double BackboneLrScale { get; init; } = 1.0;
    /// <summary>
    /// Layer-wise learning-rate decay (BEiT/timm <c>--layer-decay</c>): block i of L gets LayerDecay^(L+1-layerId),
    /// the embeddings LayerDecay^(L+1), the head 1. 1 turns it off.
    /// </summary>
    public double LayerDecay { get; init; } = 1.0;
    /// <summary>Train the head only (a linear probe): every backbone parameter is frozen.</summary>
    public bool FreezeBackbone { get; init; }
    /// <summary>Seed for weights-independent randomness: data order, augmentation seeds, torch's generator.</summary>
    public long Seed { get; init; } = 42;
    /// <summary>Multi-label mode: targets are float [B,K] in {0,1}, loss is BCE-with-logits.</summary>
    public bool MultiLabel { get; init; }
    /// <summary>Per-label positive weight for BCE (negatives/positives is the usual choice); null means 1.</summary>
    public double[]? PosWeight { get; init; }
    /// <summary>
    /// Metric that picks the best checkpoint: val_top1, val_top5, val_loss, val_f1 (macro), val_auroc, val_ap (macro),
    /// or the same with the ema_ prefix. Names ending in "loss" are minimised, the others maximised.
    /// </summary>
    public string BestMetric { get; init; } = "val_top1";
    /// <summary>Also keep the N best epoch checkpoints (epoch-NNNN.safetensors) by <see cref="BestMetric"/>; 0 keeps none.</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Torch device string: "cpu", "cuda", "cuda:1".</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>
    /// float32 (default) or bfloat16: the dtype the backbone's linear layers multiply in during training and
    /// validation (<see cref="Runtime.Autocast"/>; weights, WKV, norms and losses stay float32). Faster only where the
    /// processor has bfloat16 instructions (AVX512-BF16, AMX, tensor cores).
    /// </summary>
    public string Precision { get; init; } = "float32";

    /// <summary>Defaults: fine for a small dataset trained from scratch.</summary>
    public static TrainConfig Default { get; } = new();

    /// <summary>VRWKV-T ImageNet-1K recipe (vision-rwkv.md §5): 300 epochs, batch 1024, AdamW 1e-3, wd 0.05, clip 5, warm-up 20.</summary>
    public static TrainConfig VrwkvImageNet { get; } = new()
    {
        Epochs = 300, BatchSize = 1024, LearningRate = 1e-3, WeightDecay = 0.05, ClipGradNorm = 5.0,
        WarmupEpochs = 20, WarmupStartRatio = 1e-3, MinLrRatio = 1e-2, LabelSmoothing = 0.1,
        // mmcv decays pos_embed and the RWKV 1-D parameters; only norms and biases are exempt.
        DecayOneDimensional = true,
    };

    /// <summary>Fine-tuning a pretrained backbone: short, low learning rate, short warm-up.</summary>
    public static TrainConfig FineTune { get; } = new()
    {
        Epochs = 30, LearningRate = 1e-4, WarmupEpochs = 1, WeightDecay = 0.05, ClipGradNorm = 1.0,
    };

    /// <summary>Chest X-ray style multi-label training: BCE, best checkpoint by mean validation AUROC.</summary>
    public static TrainConfig MultiLabelDefault { get; } = new()
    {
        MultiLabel = true, LabelSmoothing = 0, BestMetric = "val_auroc", LearningRate = 1e-4, Epochs = 30, WarmupEpochs = 1,
    };

    /// <summary>Checks ranges and names; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException("Invalid training configuration: " + message);
        }
        Check(Epochs >= 1, $"Epochs must be >= 1 (got {Epochs}).");
        Check(BatchSize >= 1, $"BatchSize must be >= 1 (got {BatchSize}).");
        Check(LearningRate > 0, $"LearningRate must be > 0 (got {LearningRate}).");
        Check(MinLrRatio is >= 0 and <= 1, $"MinLrRatio must be in [0,1] (got {MinLrRatio}).");
        Check(WarmupEpochs >= 0 && WarmupSteps >= 0, "warm-up length must be >= 0.");
        Check(WarmupStartRatio is >= 0 and <= 1, $"WarmupStartRatio must be in [0,1] (got {WarmupStartRatio}).");
        Check(WeightDecay >= 0, $"WeightDecay must be >= 0 (got {WeightDecay}).");
        Check(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, "Beta1 and Beta2 must be in [0,1).");
        Check(Eps >= 0, "Eps must be >= 0.");
        Check(LabelSmoothing is >= 0 and < 1, $"LabelSmoothing must be in [0,1) (got {LabelSmoothing}).");
        Check(ClipGradNorm >= 0, $"ClipGradNorm must be >= 0 (got {ClipGradNorm}).");
        Check(GradAccumSteps >= 1, $"GradAccumSteps must be >= 1 (got {GradAccumSteps}).");
        Check(EmaDecay is > 0 and < 1, $"EmaDecay must be in (0,1) (got {EmaDecay}).");
        Check(BackboneLrScale >= 0, $"BackboneLrScale must be >= 0 (got {BackboneLrScale}).");
        Check(LayerDecay is > 0 and <= 1, $"LayerDecay must be in (0,1] (got {LayerDecay}).");
        Check(KeepCheckpoints >= 0, "KeepCheckpoints must be >= 0.");
        Check(PosWeight is null || PosWeight.All(w => w > 0), "PosWeight entries must be > 0.");
        Check(BestMetric.StartsWith("val_", StringComparison.Ordinal) || BestMetric.StartsWith("ema_", StringComparison.Ordinal),
            $"BestMetric '{BestMetric}' must start with val_ or ema_.");
        Check(!string.IsNullOrWhiteSpace(Device), "Device must be set.");
        Check(Precision.ToLowerInvariant() is "float32" or "fp32" or "bfloat16" or "bf16" or "float16" or "fp16" or "half",
            $"Precision must be float32, bfloat16 or float16 (got '{Precision}').");
    }

    /// <summary>Serialises to indented snake_case JSON (the format of the run folder's config.json).</summary>
    public string ToJson() => ConfigFile.ToJson(this);

    /// <summary>Parses JSON written by <see cref="ToJson"/>; missing options keep their defaults, unknown ones are errors.</summary>
    public static TrainConfig FromJson(string json, string source = "config")
    {
        // config.json of runs made before mixup and CutMix moved to the augment settings (the loader applies them now):
        // the keys are dropped here, the run's run.json carries them into AugmentConfig.
        if (LegacyMixupKeys.Any(k => json.Contains($"\"{k}\"", StringComparison.Ordinal))
            && System.Text.Json.Nodes.JsonNode.Parse(json) is System.Text.Json.Nodes.JsonObject o)
        {
            foreach (var key in LegacyMixupKeys)
                o.Remove(key);
            json = o.ToJsonString();
        }
        return ConfigFile.FromJson<TrainConfig>(json, source);
    }

    /// <summary>Keys that belonged to this record before mixup and CutMix moved to the data side.</summary>
    internal static readonly string[] LegacyMixupKeys = ["mixup_alpha", "cutmix_alpha", "mixup_prob", "mixup_switch_prob"];
}

/// <summary>Names of the metrics a run records: val_ or ema_ plus a task's short metric name.</summary>
public static class MetricNames
{
    /// <summary>Losses and bits per byte are minimised, everything else maximised.</summary>
    public static bool HigherIsBetter(string name) =>
        !name.EndsWith("loss", StringComparison.Ordinal) && !name.EndsWith("bpb", StringComparison.Ordinal);
}
