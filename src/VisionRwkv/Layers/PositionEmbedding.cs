using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Layers;

/// <summary>
/// Learned position embeddings laid on a 2-D token grid, resized to another grid the way mmcls' resize_pos_embed and
/// timm's resample_abs_pos_embed do: bicubic, align_corners=False, in float32. Used at run time (an input whose token
/// grid differs from the stored one) and when a checkpoint made at another resolution is loaded.
/// </summary>
public static class PositionEmbedding
{
    /// <param name="pos">[1,N0,C], N0 = from.Tokens.</param>
    /// <param name="from">The grid pos is stored at.</param>
    /// <param name="to">The grid wanted.</param>
    /// <returns>[1,N,C], N = to.Tokens; an alias of <paramref name="pos"/> when the grids are equal.</returns>
    public static Tensor Resize(Tensor pos, PatchGrid from, PatchGrid to)
    {
        ArgumentNullException.ThrowIfNull(pos);
        if (from == to) return pos.alias();
        if (pos.dim() != 3 || pos.shape[1] != from.Tokens)
            throw new ArgumentException($"position embedding [{string.Join(",", pos.shape)}] does not hold a {from.Height}x{from.Width} grid");
        using var scope = NewDisposeScope();
        long c = pos.shape[2];
        var img = pos.to(ScalarType.Float32).reshape(1, from.Height, from.Width, c).permute(0, 3, 1, 2);   // [1,C,h0,w0]
        var resized = nn.functional.interpolate(img, size: new[] { to.Height, to.Width },
            mode: InterpolationMode.Bicubic, align_corners: false);                                          // [1,C,h,w]
        var flat = resized.flatten(2).transpose(1, 2).to(pos.dtype);                                          // [1,N,C]
        return flat.MoveToOuterDisposeScope();
    }
}
