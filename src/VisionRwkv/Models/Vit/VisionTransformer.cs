using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Models.Vit;

/// <summary>
/// ViT/DeiT classifier with timm's key layout (cls_token, pos_embed, patch_embed.proj, blocks, norm, head): the
/// quadratic-attention baseline for side-by-side comparisons with Vision-RWKV.
/// </summary>
public sealed class VisionTransformer : nn.Module<Tensor, Tensor>, IImageClassifier
{
    private readonly Parameter cls_token;        // [1,1,C]
    private readonly Parameter pos_embed;        // [1,1+N0,C]
    private readonly VitPatchEmbed patch_embed;
    private readonly ModuleList<VitBlock> blocks;
    private readonly LayerNorm norm;
    private readonly Linear head;

    public VitConfig Config { get; }

    public string Name { get; }

    public int NumClasses => Config.NumClasses;

    public DataConfig Data => Config.Data;

    public VisionTransformer(VitConfig cfg, string name = "vit") : base(nameof(VisionTransformer))
    {
        Config = cfg;
        Name = name;
        int grid = cfg.GridSize;
        cls_token = new Parameter(zeros(1, 1, cfg.EmbedDim));
        pos_embed = new Parameter(zeros(1, 1 + grid * grid, cfg.EmbedDim));
        patch_embed = new VitPatchEmbed(cfg.InChannels, cfg.EmbedDim, cfg.PatchSize);
        blocks = new ModuleList<VitBlock>();
        for (int i = 0; i < cfg.Depth; i++)
            blocks.Add(new VitBlock(cfg.EmbedDim, cfg.NumHeads, cfg.MlpRatio, cfg.Depth > 1 ? cfg.DropPathRate * i / (cfg.Depth - 1) : 0));
        norm = nn.LayerNorm(cfg.EmbedDim, eps: 1e-6);
        head = nn.Linear(cfg.EmbedDim, cfg.NumClasses);
        RegisterComponents();
        Initialization.ApplyOfficial(this);
        using (no_grad())
        {
            Initialization.TruncNormal(pos_embed, std: 0.02);
            nn.init.normal_(cls_token, std: 1e-6);
        }
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        return ForwardHead(ForwardFeatures(images)).MoveToOuterDisposeScope();
    }

    /// <returns>[B,1+N,C]: the class token first, then the patch tokens.</returns>
    public Tensor ForwardFeatures(Tensor images)
    {
        using var scope = NewDisposeScope();
        var (tokens, grid) = patch_embed.call(images);                                  // [B,N,C]
        long b = tokens.shape[0];
        var x = cat(new[] { cls_token.expand(b, -1, -1), tokens }, dim: 1);             // [B,1+N,C]
        x = x.Plus(PositionEmbedding(grid));
        foreach (var block in blocks) x = block.call(x);
        return norm.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>Class-token pooling, as DeiT.</summary>
    public Tensor ForwardHead(Tensor features)
    {
        using var scope = NewDisposeScope();
        return head.call(features.select(1, 0)).MoveToOuterDisposeScope();
    }

    private Tensor PositionEmbedding(PatchGrid grid)
    {
        int g = Config.GridSize;
        var stored = new PatchGrid(g, g);
        if (grid == stored) return pos_embed.alias();
        using var scope = NewDisposeScope();
        var clsPos = pos_embed.narrow(1, 0, 1);
        var patchPos = VisionRwkvBackbone.ResizePosEmbed(pos_embed.narrow(1, 1, stored.Tokens), stored, grid);
        return cat(new[] { clsPos, patchPos }, dim: 1).MoveToOuterDisposeScope();
    }
}

/// <summary>timm PatchEmbed: a strided conv named <c>proj</c>.</summary>
public sealed class VitPatchEmbed : nn.Module<Tensor, (Tensor Tokens, PatchGrid Grid)>
{
    private readonly Conv2d proj;

    public VitPatchEmbed(int inChannels, int dim, int patch) : base(nameof(VitPatchEmbed))
    {
        proj = nn.Conv2d(inChannels, dim, patch, stride: patch);
        RegisterComponents();
    }

    public override (Tensor Tokens, PatchGrid Grid) forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = proj.call(x);                                     // [B,C,h,w]
        var grid = new PatchGrid(y.shape[2], y.shape[3]);
        return (y.flatten(2).transpose(1, 2).MoveToOuterDisposeScope(), grid);
    }
}
