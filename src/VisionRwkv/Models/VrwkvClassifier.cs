using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Models;

/// <summary>
/// Vision-RWKV image classifier with the mmcls ImageClassifier key layout (<c>backbone.*</c>, <c>head.fc.*</c>, or
/// <c>head.0/2.*</c> for VRWKV-L's MLP head): backbone → mean over tokens → head.
/// </summary>
public sealed class VrwkvClassifier : nn.Module<Tensor, Tensor>, IImageClassifier
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

    public Tensor ForwardHead(Tensor features)
    {
        using var scope = NewDisposeScope();
        var pooled = features.mean(new long[] { 1 });          // [B,C]: global average pool over tokens
        return head.call(pooled).MoveToOuterDisposeScope();
    }
}
