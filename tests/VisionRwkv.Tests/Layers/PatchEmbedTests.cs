using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Layers;

public class PatchEmbedTests
{
    [Theory]
    [InlineData(28, 28, 4, 7)]
    [InlineData(28, 28, 4, 4)]
    [InlineData(30, 27, 4, 7)]      // corner padding up to a multiple of the patch, then the overlap padding
    [InlineData(224, 224, 16, 16)]
    [InlineData(224, 200, 16, 19)]
    [InlineData(9, 9, 3, 8)]
    public void Overlapping_patches_keep_the_token_grid_of_the_non_overlapping_ones(int h, int w, int patch, int kernel)
    {
        using var scope = NewDisposeScope();
        using var embed = new PatchEmbed(2, 8, patch, kernel);
        var (tokens, grid) = embed.call(randn(3, 2, h, w));
        long gh = (h + patch - 1) / patch, gw = (w + patch - 1) / patch;
        Assert.Equal(new PatchGrid(gh, gw), grid);
        Assert.Equal(new[] { 3L, gh * gw, 8 }, tokens.shape);
    }

    [Fact]
    public void The_projection_weight_has_the_kernel_size_and_keeps_the_official_name()
    {
        using var embed = new PatchEmbed(1, 96, 4, 7);
        var weights = embed.state_dict();
        Assert.Equal(new[] { 96L, 1, 7, 7 }, weights["projection.weight"].shape);
        Assert.Equal(new[] { 96L }, weights["projection.bias"].shape);
    }

    [Fact]
    public void With_the_default_kernel_a_token_sees_only_its_own_patch()
    {
        using var scope = NewDisposeScope();
        using var embed = new PatchEmbed(1, 4, 4);
        var x = zeros(1, 1, 8, 8);
        x[0, 0, 5, 6] = tensor(1f);                          // inside patch (row 1, col 1) = token 3
        var (tokens, _) = embed.call(x);
        var delta = (tokens - embed.call(zeros(1, 1, 8, 8)).Tokens).abs().sum(2)[0];   // [N]
        Assert.Equal(new[] { false, false, false, true }, delta.gt(0).data<bool>().ToArray());
    }

    [Fact]
    public void With_a_larger_kernel_a_pixel_near_a_border_reaches_the_neighbouring_token()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var embed = new PatchEmbed(1, 4, 4, 7);
        var x = zeros(1, 1, 8, 8);
        x[0, 0, 4, 4] = tensor(1f);                          // top-left pixel of token 3, next to tokens 0, 1, 2
        var (tokens, _) = embed.call(x);
        var delta = (tokens - embed.call(zeros(1, 1, 8, 8)).Tokens).abs().sum(2)[0];
        Assert.True(delta.gt(0).all().item<bool>(), "every token's 7x7 window around its patch covers pixel (4, 4)");
    }

    [Fact]
    public void A_kernel_smaller_than_the_patch_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PatchEmbed(1, 4, 4, 3));
    }
}
