using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Datasets;
using VisionRwkv.Checkpoints;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Models;

/// <summary>
/// Vision-RWKV image classifier with the mmcls ImageClassifier key layout (<c>backbone.*</c>, <c>head.fc.*</c>, or
/// <c>head.0/2.*</c> for VRWKV-L's MLP head): backbone → mean over tokens → head.
/// </summary>
public sealed class VrwkvClassifier : nn.Module<Tensor, Tensor>, IImageClassifier, ICheckpointLayout
{
    private readonly VisionRwkvBackbone backbone;
    private readonly nn.Module<Tensor, Tensor> head;

    public VrwkvConfig Config { get; }

    public string Name { get; }

    public int NumClasses => Config.NumClasses;

    public DataConfig Data => Config.Data;

    public VisionRwkvBackbone Backbone => backbone;

    public VrwkvClassifier(VrwkvConfig cfg, string name = "vrwkv") : base(nameof(VrwkvClassifier))
    {
        if (cfg.NumClasses <= 0) throw new ArgumentException("a classifier needs NumClasses > 0", nameof(cfg));
        Config = cfg;
        Name = name;
        backbone = new VisionRwkvBackbone(cfg);
        head = cfg.HeadHidden > 0
            ? nn.Sequential(nn.Linear(cfg.EmbedDims, cfg.HeadHidden), nn.Tanh(), nn.Linear(cfg.HeadHidden, cfg.NumClasses))
            : new ClsHead(cfg.EmbedDims, cfg.NumClasses);
        RegisterComponents();
        Initialization.ApplyOfficial(this);
    }

    /// <param name="images">[B,Cin,H,W]</param>
    /// <returns>[B,K] logits.</returns>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        return ForwardHead(backbone.call(images)).MoveToOuterDisposeScope();
    }

    public Tensor ForwardFeatures(Tensor images) => backbone.call(images);

    public int LayerCount => Config.Depth;

    public int LayerIdOf(string parameterName) => VisionRwkvBackbone.LayerIdOf(parameterName, Config.Depth);

    public bool IsHead(string parameterName) => parameterName.StartsWith("head.", StringComparison.Ordinal);

    IReadOnlyCollection<string> ICheckpointLayout.HeadKeys =>
        [.. state_dict().Keys.Where(IsHead)];

    IReadOnlyDictionary<string, (PatchGrid Grid, int PrefixTokens)> ICheckpointLayout.PositionEmbeddings =>
        new Dictionary<string, (PatchGrid, int)> { ["backbone.pos_embed"] = (Config.StoredGrid, 0) };

    string? ICheckpointLayout.InputConvKey => "backbone.patch_embed.projection.weight";

    public Tensor ForwardHead(Tensor features)
    {
        using var scope = NewDisposeScope();
        var pooled = features.mean(new long[] { 1 });          // [B,C]: global average pool over tokens
        return head.call(pooled).MoveToOuterDisposeScope();
    }
}
