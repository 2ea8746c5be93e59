using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Blocks;
using VisionRwkv.Layers;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Models;

/// <summary>
/// The Vision-RWKV backbone (official <c>VRWKV</c>, key prefix <c>backbone.</c>): patch embedding, learned position
/// embedding (resized on the fly when the token grid differs from the stored one), a stack of blocks, final LayerNorm.
/// </summary>
public sealed class VisionRwkvBackbone : nn.Module<Tensor, Tensor>
{
    private readonly Parameter pos_embed;           // [1,N0,C], N0 = stored grid (196 for T/S/B at 224)
    private readonly PatchEmbed patch_embed;
    private readonly ModuleList<Block> layers;
    private readonly LayerNorm? ln1;                // the final norm; the official name collides with blocks' ln1
    private readonly Dropout drop_after_pos;

    public VrwkvConfig Config { get; }

    public VisionRwkvBackbone(VrwkvConfig cfg) : base(nameof(VisionRwkvBackbone))
    {
        Config = cfg;
        var grid = cfg.StoredGrid;
        pos_embed = new Parameter(zeros(1, grid.Tokens, cfg.EmbedDims));
        patch_embed = new PatchEmbed(cfg.InChannels, cfg.EmbedDims, cfg.PatchSize, cfg.PatchKernel);
        drop_after_pos = nn.Dropout(cfg.DropRate);
        layers = new ModuleList<Block>();
        for (int i = 0; i < cfg.Depth; i++)
        {
            // Stochastic depth grows linearly with depth: linspace(0, rate, depth)[i].
            double dpr = cfg.Depth > 1 ? cfg.DropPathRate * i / (cfg.Depth - 1) : 0.0;
            layers.Add(new Block(cfg.Block, i, dpr));
        }
        ln1 = cfg.FinalNorm ? nn.LayerNorm(cfg.EmbedDims) : null;
        RegisterComponents();
    }

    /// <summary>Tokens after the final norm.</summary>
    /// <param name="x">[B,Cin,H,W] normalised images.</param>
    /// <returns>[B,N,C] tokens (row-major over the grid).</returns>
    public override Tensor forward(Tensor x) => ForwardTokens(x).Tokens;

    /// <summary>Tokens and their grid.</summary>
    public (Tensor Tokens, PatchGrid Grid) ForwardTokens(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (tokens, grid) = patch_embed.call(x);                                  // [B,N,C]
        tokens = tokens.Plus(PositionEmbedding.Resize(pos_embed, Config.StoredGrid, grid));
        tokens = drop_after_pos.call(tokens);
        foreach (var layer in layers)
            tokens = layer.call(tokens, grid);
        if (ln1 is not null) tokens = ln1.call(tokens);
        return (tokens.MoveToOuterDisposeScope(), grid);
    }

    /// <summary>
    /// timm's layer id of a parameter of a model with this backbone under the key prefix <c>backbone.</c>, for
    /// layer-wise learning-rate decay: 0 for the embeddings, i+1 for block i, depth+1 for the final norm and whatever
    /// sits on top (a classifier head, a detector's neck and head).
    /// </summary>
    public static int LayerIdOf(string parameterName, int depth)
    {
        ArgumentNullException.ThrowIfNull(parameterName);
        const string blocks = "backbone.layers.";
        if (parameterName.StartsWith(blocks, StringComparison.Ordinal))
            return int.Parse(parameterName.AsSpan(blocks.Length, parameterName.IndexOf('.', blocks.Length) - blocks.Length), System.Globalization.CultureInfo.InvariantCulture) + 1;
        if (parameterName.StartsWith("backbone.patch_embed.", StringComparison.Ordinal) || parameterName == "backbone.pos_embed")
            return 0;
        return depth + 1;
    }

    /// <summary>Feature map for dense heads and saliency.</summary>
    /// <returns>[B,C,H,W]</returns>
    public Tensor ForwardMap(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (tokens, grid) = ForwardTokens(x);
        var map = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], grid.Height, grid.Width);
        return map.MoveToOuterDisposeScope();
    }
}
