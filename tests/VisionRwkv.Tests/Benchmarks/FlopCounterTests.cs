using VisionRwkv.Benchmarks;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;

namespace VisionRwkv.Tests.Benchmarks;

public class FlopCounterTests
{
    // 8x8 grayscale, 4x4 patches → 2x2 = 4 tokens, C = 8, hidden = 32, 2 layers, 10 classes.
    private static readonly VrwkvConfig SmallRwkv = new()
    {
        ImgHeight = 8, ImgWidth = 8, PatchSize = 4, InChannels = 1, EmbedDims = 8, Depth = 2, HiddenRate = 4, NumClasses = 10,
    };

    private static readonly VitConfig SmallVit = new()
    {
        ImgSize = 8, PatchSize = 4, InChannels = 1, EmbedDim = 8, Depth = 2, NumHeads = 2, MlpRatio = 4, NumClasses = 10,
    };

    [Fact]
    public void Vrwkv_flops_match_a_hand_count()
    {
        var f = FlopCounter.Count(SmallRwkv, 8, 8);
        // patch conv 2·4·8·16 = 1024; per layer: spatial 4·(2·4·8·8) = 2048, channel 2·4·32·8 + 2·4·8·32 + 2·4·8·8 = 4608;
        // two layers 13312; head 2·10·8 = 160 → 14496. WKV 2 layers · 13·4·8 = 832.
        Assert.Equal(4, f.Tokens);
        Assert.Equal(14496, f.Matmul);
        Assert.Equal(832, f.Wkv);
        Assert.Equal(0, f.Attention);
        Assert.Equal(15328, f.Forward);
        Assert.Equal(3 * 15328, f.For(BenchMode.Train));
        Assert.Equal(15328, f.For(BenchMode.Infer));
    }

    [Fact]
    public void Vrwkv_pads_a_partial_patch_into_a_whole_token()
    {
        // 9x9 with 4x4 patches pads to 12x12 → 3x3 = 9 tokens.
        var f = FlopCounter.Count(SmallRwkv, 9, 9);
        Assert.Equal(9, f.Tokens);
        Assert.Equal(2 * 13 * 9 * 8, f.Wkv);
        Assert.Equal(2.0 * 9 * 8 * 16 + 2 * (2048 + 4608) / 4.0 * 9 + 160, f.Matmul);
    }

    [Fact]
    public void Vit_flops_match_a_hand_count()
    {
        var f = FlopCounter.Count(SmallVit, 8, 8);
        // 4 patches + class token = 5 tokens. patch conv 2·4·8·16 = 1024; per layer qkv 2·5·24·8 = 1920, proj 640,
        // fc1 2·5·32·8 = 2560, fc2 2560 → 7680; two layers 15360; head 160 → 16544. Attention 2 · 4·25·8 = 1600.
        Assert.Equal(5, f.Tokens);
        Assert.Equal(16544, f.Matmul);
        Assert.Equal(1600, f.Attention);
        Assert.Equal(0, f.Wkv);
        Assert.Equal(18144, f.Forward);
    }

    [Fact]
    public void Matmul_flops_equal_twice_the_weight_elements_times_the_tokens_of_a_built_model()
    {
        // Independent of the formula's structure: every Linear/conv weight element is one multiply-add per token.
        using var model = new VrwkvClassifier(VrwkvConfig.Mini28);
        long tokens = 7 * 7;
        double expected = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal) || p.dim() < 2) continue;   // skip norms, biases, mixes
            expected += 2.0 * p.numel() * (name.StartsWith("head.", StringComparison.Ordinal) ? 1 : tokens);
        }
        Assert.Equal(expected, FlopCounter.Count(model, 28, 28).Matmul);
    }

    [Fact]
    public void Vit_matmul_flops_equal_twice_the_weight_elements_times_the_tokens_of_a_built_model()
    {
        using var model = new VisionTransformer(VitConfig.Mini28);
        long patches = 7 * 7;
        double expected = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal) || p.dim() < 2) continue;
            long rows = name.StartsWith("head.", StringComparison.Ordinal) ? 1 : name.StartsWith("patch_embed.", StringComparison.Ordinal) ? patches : patches + 1;
            expected += 2.0 * p.numel() * rows;
        }
        Assert.Equal(expected, FlopCounter.Count(model, 28, 28).Matmul);
    }

    [Theory]
    [InlineData("vrwkv_t", 1.2e9)]   // Vision-RWKV paper, Table 1 (multiply-adds, reported as "FLOPs")
    [InlineData("vit_t", 1.3e9)]     // DeiT-Ti
    public void Published_224_figures_are_reproduced_within_ten_percent(string name, double publishedMacs)
    {
        var entry = ModelRegistry.Get(name);
        using var model = entry.Create(null);
        var f = FlopCounter.Count((IImageClassifier)model, 224, 224);
        Assert.InRange(f.Forward / 2, publishedMacs * 0.9, publishedMacs * 1.1);
    }

    [Fact]
    public void Attention_grows_quadratically_and_wkv_linearly_with_tokens()
    {
        var vit = VitConfig.Tiny;
        var rwkv = VrwkvConfig.Tiny;
        Assert.Equal(16.0, FlopCounter.Count(rwkv, 896, 896).Wkv / FlopCounter.Count(rwkv, 224, 224).Wkv);
        double ratio = FlopCounter.Count(vit, 896, 896).Attention / FlopCounter.Count(vit, 224, 224).Attention;
        Assert.Equal(Math.Pow(3137.0 / 197.0, 2), ratio, 9);
    }

    [Fact]
    public void A_non_positive_size_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FlopCounter.Count(SmallRwkv, 0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlopCounter.Count(SmallVit, 8, -1));
    }
}
