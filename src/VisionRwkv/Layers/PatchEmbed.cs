using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Layers;

/// <summary>
/// mmcv PatchEmbed as the official backbone configures it: a strided conv named <c>projection</c>, after zero-padding
/// the bottom/right edge up to a multiple of the patch size ("corner" adaptive padding; a no-op at 224).
/// With a kernel larger than the stride (overlapping patches) the conv also pads every side by ⌈(kernel-patch)/2⌉,
/// which keeps the token grid at ⌈H/patch⌉ × ⌈W/patch⌉.
/// </summary>
public sealed class PatchEmbed : nn.Module<Tensor, (Tensor Tokens, PatchGrid Grid)>
{
    private readonly Conv2d projection;
    private readonly int _patch;

    public PatchEmbed(int inChannels, int embedDims, int patchSize, int? kernelSize = null) : base(nameof(PatchEmbed))
    {
        int kernel = kernelSize ?? patchSize;
        if (kernel < patchSize)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), $"the patch kernel ({kernel}) must be at least the patch size ({patchSize})");
        _patch = patchSize;
        projection = nn.Conv2d(inChannels, embedDims, kernel, stride: patchSize, padding: (kernel - patchSize + 1) / 2, bias: true);
        RegisterComponents();
    }

    /// <param name="x">[B,Cin,H,W] images.</param>
    /// <returns>[B,N,C] tokens (row-major) and their grid.</returns>
    public override (Tensor Tokens, PatchGrid Grid) forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long h = x.shape[2], w = x.shape[3];
        long padH = (_patch - h % _patch) % _patch, padW = (_patch - w % _patch) % _patch;
        if (padH > 0 || padW > 0)
            x = nn.functional.pad(x, new long[] { 0, padW, 0, padH });        // (W_lo, W_hi, H_lo, H_hi)
        var y = projection.call(x);                                            // [B,C,h,w]
        var grid = new PatchGrid(y.shape[2], y.shape[3]);
        var tokens = y.flatten(2).transpose(1, 2);                             // [B,N,C]
        return (tokens.MoveToOuterDisposeScope(), grid);
    }
}
