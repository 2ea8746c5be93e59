using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using VisionRwkv.Layers;
using VisionRwkv.Datasets;
using static TorchSharp.torch;

namespace VisionRwkv.Models.Vit;

/// <summary>
/// ViT/DeiT classifier with timm's key layout (cls_token, pos_embed, patch_embed.proj, blocks, norm, head): the
/// quadratic-attention baseline for side-by-side comparisons with Vision-RWKV.
/// </summary>
public sealed class VisionTransformer : nn.Module<Tensor, Tensor>, IImageClassifier, Checkpoints.ICheckpointLayout
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
    public int LayerCount => Config.Depth;

    public int LayerIdOf(string parameterName)
    {
        ArgumentNullException.ThrowIfNull(parameterName);
        if (parameterName.StartsWith("blocks.", StringComparison.Ordinal))
            return int.Parse(parameterName.AsSpan(7, parameterName.IndexOf('.', 7) - 7), System.Globalization.CultureInfo.InvariantCulture) + 1;
        if (parameterName.StartsWith("patch_embed.", StringComparison.Ordinal) || parameterName is "pos_embed" or "cls_token")
            return 0;
        return Config.Depth + 1;   // the final norm and the head
    }

    public bool IsHead(string parameterName) => parameterName.StartsWith("head.", StringComparison.Ordinal);

    IReadOnlyCollection<string> Checkpoints.ICheckpointLayout.HeadKeys => ["head.weight", "head.bias"];

    IReadOnlyDictionary<string, (PatchGrid Grid, int PrefixTokens)> Checkpoints.ICheckpointLayout.PositionEmbeddings =>
        new Dictionary<string, (PatchGrid, int)> { ["pos_embed"] = (new PatchGrid(Config.GridSize, Config.GridSize), 1) };

    string? Checkpoints.ICheckpointLayout.InputConvKey => "patch_embed.proj.weight";

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
        var patchPos = Layers.PositionEmbedding.Resize(pos_embed.narrow(1, 1, stored.Tokens), stored, grid);
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
